"""``--log-level`` and ``--log-format``: accepted anywhere on the command line, and from the environment."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Any

from taskshed.logs import (
    FORMAT_ENV,
    FORMATS,
    LEVEL_ENV,
    LEVELS,
    LogFormat,
    env_format,
    env_level,
    parse_format,
    parse_level,
)

_OPTIONS = ("--log-level", "--log-format")


@dataclass(frozen=True)
class LoggingChoice:
    level: int = logging.INFO
    format: LogFormat = "text"


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    """Show the options in ``parser``'s help; their values are taken out before parsing."""
    group = parser.add_argument_group("logging (anywhere on the command line)")
    group.add_argument(
        "--log-level",
        metavar="LEVEL",
        default=argparse.SUPPRESS,
        help=f"{', '.join(LEVELS)} (default: ${LEVEL_ENV}, then INFO)",
    )
    group.add_argument(
        "--log-format",
        metavar="FORMAT",
        default=argparse.SUPPRESS,
        help=f"{' or '.join(FORMATS)}: one JSON object per line (default: ${FORMAT_ENV}, then text)",
    )


class CommandParser(argparse.ArgumentParser):
    """A sub-command's parser: lists the logging options in its ``--help`` too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.add_help:
            add_logging_options(self)


def take_logging_options(
    words: list[str], parser: argparse.ArgumentParser
) -> tuple[list[str], LoggingChoice]:
    """Remove the logging options from ``words`` (wherever they are, up to ``--``) and read them.

    The environment fills in what the command line leaves out. A bad value is
    a usage error (exit status 2), like any other option.
    """
    found: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            rest.extend(words[i:])
            break
        name, eq, value = word.partition("=")
        if name in _OPTIONS:
            if not eq:
                if i + 1 >= len(words):
                    parser.error(f"argument {name}: expected one argument")
                value = words[i + 1]
                i += 1
            found[name] = value
        else:
            rest.append(word)
        i += 1
    level_text = found.get("--log-level") or env_level() or "INFO"
    format_text = found.get("--log-format") or env_format() or "text"
    try:
        level = parse_level(level_text)
    except ValueError as exc:
        where = "argument --log-level" if "--log-level" in found else LEVEL_ENV
        parser.error(f"{where}: {exc}")
    try:
        fmt = parse_format(format_text)
    except ValueError as exc:
        where = "argument --log-format" if "--log-format" in found else FORMAT_ENV
        parser.error(f"{where}: {exc}")
    return rest, LoggingChoice(level, fmt)
