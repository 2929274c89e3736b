"""``taskshed``: the entry point that gathers the core's commands and the plugins' ones."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from taskshed.cli import (
    cron_command,
    demo_command,
    health_command,
    plugins_command,
    tasks_command,
    worker_command,
    workers_command,
)
from taskshed.cli.logging_options import CommandParser, add_logging_options, take_logging_options
from taskshed.cli.output import run_quietly
from taskshed.errors import PluginLoadError, TaskshedError
from taskshed.logs import configure_logging
from taskshed.plugins import create_plugin_manager
from taskshed.registry import BackendRegistry, default_registry


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
    add_logging_options(parser)
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=CommandParser
    )
    registry = registry or _command_registry()[0]
    plugins_command.add_parser(subparsers)
    worker_command.add_parser(subparsers, registry.plugin_manager)
    demo_command.add_parser(subparsers)
    cron_command.add_parser(subparsers)
    tasks_command.add_parser(subparsers)
    workers_command.add_parser(subparsers)
    health_command.add_parser(subparsers)
    registry.add_commands(subparsers)  # a plugin that raises is reported, not fatal
    return parser


#: Commands that plugins add, and the extra that brings each.
_PLUGIN_COMMANDS = {
    "db": "sqlite] or taskshed[mysql] or taskshed[postgresql",
    "dashboard": "dashboard",
}


def main(argv: Sequence[str] | None = None) -> int:
    return run_quietly(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    registry, strict_error = _command_registry()
    parser = build_parser(registry)
    if strict_error is None and registry.plugin_manager.strict and registry.problems:
        strict_error = PluginLoadError(str(registry.problems[0]))
    words, logging_choice = take_logging_options(
        list(sys.argv[1:] if argv is None else argv), parser
    )
    command = next((word for word in words if not word.startswith("-")), None)
    if command in _PLUGIN_COMMANDS and command not in _subcommands(parser):
        print(
            f"taskshed: error: the {command!r} command comes with a plugin: "
            f"pip install 'taskshed[{_PLUGIN_COMMANDS[command]}]'",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(words)
    configure_logging(
        logging_choice.level,
        logging_choice.format,
        run_log=getattr(args, "run_log", True),
    )
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
