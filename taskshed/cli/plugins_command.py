"""``taskshed plugins``: what is installed, what it provides, and what failed to load."""

from __future__ import annotations

import argparse

from taskshed.config import load_settings
from taskshed.registry import default_registry


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins", help="list plugins, the datastores and serializers they provide, load errors"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    registry = default_registry()
    schemes = registry.schemes_by_plugin()
    serializers = registry.serializers_by_plugin()
    rows = [("PLUGIN", "DISTRIBUTION", "VERSION", "SOURCE", "PROVIDES")]
    for info in registry.plugin_manager.infos:
        provides = []
        if schemes.get(info.name):
            provides.append("datastores: " + ", ".join(f"{s}://" for s in schemes[info.name]))
        if serializers.get(info.name):
            provides.append("serializers: " + ", ".join(serializers[info.name]))
        if info.error:
            provides = [f"LOAD ERROR: {info.error}"]
        rows.append(
            (
                info.name,
                info.distribution or "-",
                info.version or "-",
                info.source,
                "; ".join(provides) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]))
    settings = load_settings(registry=registry)
    print()
    print(f"datastore:  {settings.datastore} (from {settings.datastore_source})")
    print(f"serializer: {settings.serializer} (from {settings.serializer_source})")
    return 1 if registry.plugin_manager.load_errors else 0
