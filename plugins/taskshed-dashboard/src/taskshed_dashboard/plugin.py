"""The ``taskshed`` entry point of this distribution: the ``taskshed dashboard`` command."""

from __future__ import annotations

import argparse

from taskshed.markers import hookimpl


@hookimpl
def taskshed_add_commands(subparsers: argparse._SubParsersAction) -> None:
    # Starlette, Jinja2 and uvicorn are imported only when the command runs.
    from taskshed_dashboard.cli import add_parser

    add_parser(subparsers)
