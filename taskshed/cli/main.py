"""``taskshed``: the entry point that gathers the core's commands and the plugins' ones."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from taskshed.cli import demo_command, plugins_command, worker_command
from taskshed.errors import PluginLoadError, TaskshedError
from taskshed.plugins import create_plugin_manager
from taskshed.registry import BackendRegistry, default_registry

#: Libraries whose INFO chatter (migration steps, driver notes) would drown a command's output.
_QUIET_LOGGERS = ("alembic", "asyncmy")


def _command_registry() -> tuple[BackendRegistry, PluginLoadError | None]:
    """The registry whose plugins may add commands; in strict mode a broken plugin is kept aside.

    The error is returned rather than raised, so that ``--help`` and
    ``taskshed plugins`` still work and every other command reports it in one line.
    """
    try:
        return default_registry(), None
    except PluginLoadError as exc:
        # The error is reported once, by the caller; the lenient reload stays quiet.
        plugin_log = logging.getLogger("taskshed.plugins")
        plugin_log.disabled = True
        try:
            return BackendRegistry.from_plugin_manager(create_plugin_manager(strict=False)), exc
        finally:
            plugin_log.disabled = False


def build_parser(registry: BackendRegistry | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskshed", description="Schedule and run asyncio tasks from a shared datastore."
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default: INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins_command.add_parser(subparsers)
    worker_command.add_parser(subparsers)
    demo_command.add_parser(subparsers)
    registry = registry or _command_registry()[0]
    registry.plugin_manager.hook.taskshed_add_commands(subparsers=subparsers)
    return parser


#: Commands that plugins add, and the extra that brings each.
_PLUGIN_COMMANDS = {"db": "sqlite] or taskshed[mysql] or taskshed[postgresql"}


def main(argv: Sequence[str] | None = None) -> int:
    registry, strict_error = _command_registry()
    parser = build_parser(registry)
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in words if not word.startswith("-")), None)
    if command in _PLUGIN_COMMANDS and command not in _subcommands(parser):
        print(
            f"taskshed: error: the {command!r} command comes with a plugin: "
            f"pip install 'taskshed[{_PLUGIN_COMMANDS[command]}]'",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(argv)
    level = getattr(logging, args.log_level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level > logging.DEBUG:
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(max(level, logging.WARNING))
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    if strict_error is not None and func is not plugins_command.run:
        print(f"taskshed: error: {strict_error}", file=sys.stderr)
        return 1
    try:
        return int(func(args) or 0)
    except TaskshedError as exc:
        print(f"taskshed: error: {exc}", file=sys.stderr)
        return 1


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


if __name__ == "__main__":
    sys.exit(main())
