"""``taskshed plugins``: what is installed, what it provides, what is broken, and the configuration."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from taskshed.config import Settings, load_settings
from taskshed.datastores.base import DataStore
from taskshed.errors import PluginLoadError, TaskshedError
from taskshed.plugins import create_plugin_manager
from taskshed.registry import KINDS, BackendKind, BackendRegistry, default_registry
from taskshed.serializers.base import Serializer

#: What ``--check`` round-trips through the configured serializer.
_SAMPLE_KWARGS: dict[str, Any] = {"text": "héllo", "number": 1.5, "items": [1, None, True]}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list plugins, the datastores and serializers they provide, and what is broken",
        description="List every plugin and what it provides, then check the configured "
        "datastore and serializer. Exits 1 if a plugin failed to load or answered its "
        "hooks wrongly, two plugins claim one name, or the configured datastore or "
        "serializer can't be built (or, with --check, started).",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show each backend's description, examples and required modules",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="also start and shut down the configured datastore (as a worker would: "
        "a SQLite file is created) and round-trip kwargs through the serializer",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long --check waits for the datastore (default: 30)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        status = _report(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # `taskshed plugins | head -1`: the reader left; say nothing more, and keep
        # Python from complaining when it flushes stdout on the way out.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


def _report(args: argparse.Namespace) -> int:
    try:
        registry = default_registry()
    except PluginLoadError:
        # Strict mode: list everything anyway, every problem included.
        registry = BackendRegistry.from_plugin_manager(create_plugin_manager(strict=False))
    problems = _print_table(registry, verbose=bool(getattr(args, "verbose", False)))
    print()
    try:
        settings = load_settings(registry=registry)
    except TaskshedError as exc:
        print(f"configuration: ERROR: {_first_line(exc)}")
        return 1
    problems += _check_configuration(
        registry,
        settings,
        start=bool(getattr(args, "check", False)),
        timeout=float(getattr(args, "timeout", 30.0)),
    )
    return 1 if problems else 0


# ---------------------------------------------------------------------- the table


def _print_table(registry: BackendRegistry, *, verbose: bool) -> int:
    """Print one row per plugin (and, verbose, its backends); return the number of problems."""
    clashes = {kind.name: registry.clashes(kind) for kind in KINDS}
    rows = [("PLUGIN", "DISTRIBUTION", "VERSION", "SOURCE", "PROVIDES")]
    details: dict[int, list[str]] = {}
    problems = 0
    for info in registry.plugin_manager.infos:
        provides = []
        if info.error:
            provides.append(f"LOAD ERROR: {info.error}")
            problems += 1
        for kind in KINDS:
            keys = registry.keys_by_plugin(kind).get(info.name)
            if keys:
                shown = [_show_key(registry, kind, key, clashes[kind.name]) for key in keys]
                provides.append(f"{kind.plural}: " + ", ".join(shown))
        for problem in registry.problems_of(info.name):
            provides.append(f"ERROR: {problem.hook}() {problem.message}")
            problems += 1
        rows.append(
            (
                info.name,
                info.distribution or "-",
                info.version or "-",
                info.source,
                "; ".join(provides) or "-",
            )
        )
        if verbose:
            details[len(rows) - 1] = _backend_details(registry, info.name)
    listed = {info.name for info in registry.plugin_manager.infos}
    for problem in registry.problems:
        if problem.plugin not in listed:  # a plugin registered straight on a plugin manager
            rows.append(
                (problem.plugin, "-", "-", "-", f"ERROR: {problem.hook}() {problem.message}")
            )
            problems += 1
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for number, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]).rstrip())
        for line in details.get(number, []):
            print(f"    {line}")
    for kind in KINDS:
        for key, plugins in clashes[kind.name].items():
            print(
                f"CLASH: {kind.label} {kind.show(key)} is provided by plugins "
                f"{', '.join(map(repr, plugins))}; it can't be used until only one remains"
            )
            problems += 1
    return problems


def _show_key(
    registry: BackendRegistry, kind: BackendKind, key: str, clashes: dict[str, list[str]]
) -> str:
    text = kind.show(key)
    if key in clashes:
        text += " (CLASH)"
    providers = registry.tables[kind.name][key]
    missing = {
        module for provider in providers for module in registry.missing_modules(provider.backend)
    }
    if missing:
        text += f" (missing {', '.join(sorted(missing))})"
    return text


def _backend_details(registry: BackendRegistry, plugin: str) -> list[str]:
    lines: list[str] = []
    for kind in KINDS:
        for backend in registry.backends_of(plugin, kind):
            lines.append(f"{kind.name} " + ", ".join(kind.show(key) for key in kind.keys(backend)))
            if backend.description:
                lines.append(f"    {backend.description}")
            for example in getattr(backend, "examples", ()):
                lines.append(f"    example: {example}")
            requires = getattr(backend, "requires", ())
            if requires:
                missing = registry.missing_modules(backend)
                state = ", ".join(
                    f"{module} (MISSING: "
                    f"{registry.install_hint(plugin, kind.keys(backend)[0], module)})"
                    if module in missing
                    else module
                    for module in requires
                )
                lines.append(f"    needs: {state}")
    return lines


# ---------------------------------------------------------------------- the configuration


def _check_configuration(
    registry: BackendRegistry, settings: Settings, *, start: bool, timeout: float
) -> int:
    """Build (and with ``start``, open) the configured serializer and store; print both lines."""
    problems = 0
    serializer_line = f"{settings.serializer} (from {settings.serializer_source})"
    serializer: Serializer | None = None
    try:
        serializer = registry.serializer(settings.serializer).factory()
        if start:
            serializer_line += "  OK: " + _round_trip(serializer)
    except TaskshedError as exc:
        serializer_line += f"  ERROR: {_first_line(exc)}"
        problems += 1
    except Exception as exc:
        serializer_line += f"  ERROR: {type(exc).__name__}: {_first_line(exc)}"
        problems += 1

    datastore_line = f"{settings.datastore} (from {settings.datastore_source})"
    try:
        backend = registry.datastore(settings.datastore.scheme)
        if serializer is None:
            from taskshed.serializers.json import JSONSerializer

            serializer = JSONSerializer()
        store = backend.factory(settings.datastore, serializer)
        if start:
            datastore_line += "  OK: " + asyncio.run(_open_and_close(store, timeout))
    except TaskshedError as exc:
        datastore_line += f"  ERROR: {_first_line(exc)}"
        problems += 1
    except Exception as exc:
        datastore_line += f"  ERROR: {type(exc).__name__}: {_first_line(exc)}"
        problems += 1
    print(f"datastore:  {datastore_line}")
    print(f"serializer: {serializer_line}")
    return problems


def _round_trip(serializer: Serializer) -> str:
    for attribute in ("name", "dumps", "loads"):
        if not hasattr(serializer, attribute):
            raise TypeError(f"the serializer object has no {attribute!r}")
    text = serializer.dumps(_SAMPLE_KWARGS)
    if not isinstance(text, str):
        raise TypeError(f"dumps() returned a {type(text).__name__}, not a str")
    back = serializer.loads(text)
    if back != _SAMPLE_KWARGS:
        raise ValueError(f"kwargs came back as {back!r}")
    return "kwargs round-trip"


async def _open_and_close(store: DataStore, timeout: float) -> str:
    began = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await store.start()
            await store.fetch_next_wakeup()
    except TimeoutError:
        raise TimeoutError(f"the datastore did not answer within {timeout:g} s") from None
    finally:
        async with asyncio.timeout(timeout):
            await store.shutdown()
    return f"started, read and shut down in {(time.perf_counter() - began) * 1000:.0f} ms"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
