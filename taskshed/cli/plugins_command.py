"""``taskshed plugins``: what is installed, what it provides, and what failed to load."""

from __future__ import annotations

import argparse

from taskshed.config import load_settings
from taskshed.errors import PluginLoadError, TaskshedError
from taskshed.plugins import create_plugin_manager
from taskshed.registry import BackendRegistry, default_registry


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list plugins, the datastores and serializers they provide, load errors",
        description="List every plugin and what it provides, then check the configured "
        "datastore and serializer. Exits 1 if a plugin failed to load or the "
        "configuration names something no plugin provides.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        registry = default_registry()
    except PluginLoadError:
        # Strict mode: list everything anyway, load errors included.
        registry = BackendRegistry.from_plugin_manager(create_plugin_manager(strict=False))
    _print_table(registry)
    problems = len(registry.plugin_manager.load_errors)
    print()
    try:
        settings = load_settings(registry=registry)
    except TaskshedError as exc:
        print(f"configuration: ERROR: {exc}")
        return 1
    datastore = f"{settings.datastore} (from {settings.datastore_source})"
    serializer = f"{settings.serializer} (from {settings.serializer_source})"
    try:
        registry.datastore(settings.datastore.scheme)
    except TaskshedError as exc:
        datastore += f"  ERROR: {exc}"
        problems += 1
    try:
        registry.serializer(settings.serializer)
    except TaskshedError as exc:
        serializer += f"  ERROR: {exc}"
        problems += 1
    print(f"datastore:  {datastore}")
    print(f"serializer: {serializer}")
    return 1 if problems else 0


def _print_table(registry: BackendRegistry) -> None:
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
