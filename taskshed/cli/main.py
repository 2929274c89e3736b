"""``taskshed``: the entry point that gathers the core's commands and the plugins' ones."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from taskshed.cli import demo_command, plugins_command, worker_command
from taskshed.errors import TaskshedError
from taskshed.registry import default_registry


def build_parser() -> argparse.ArgumentParser:
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
    default_registry().plugin_manager.hook.taskshed_add_commands(subparsers=subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except TaskshedError as exc:
        print(f"taskshed: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
