"""Options several commands share."""

from __future__ import annotations

import argparse

from taskshed.config import DATASTORE_ENV, load_settings, open_datastore
from taskshed.datastores.base import DataStore
from taskshed.errors import ConfigurationError


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--datastore",
        metavar="URL",
        help="datastore URL (default: $TASKSHED_DATASTORE, then [tool.taskshed] in "
        "pyproject.toml, then the embedded SQLite file taskshed.db)",
    )
    parser.add_argument(
        "--serializer",
        metavar="NAME",
        help="kwargs serializer (default: $TASKSHED_SERIALIZER, pyproject.toml, then json)",
    )


def store_from_args(args: argparse.Namespace) -> DataStore:
    return open_datastore(args.datastore, serializer=args.serializer)


def describe_store(args: argparse.Namespace) -> str:
    settings = load_settings(datastore=args.datastore, serializer=args.serializer)
    if settings.datastore_source == "default":
        return f"{settings.datastore} (the embedded default: no datastore configured)"
    return f"{settings.datastore} (from {settings.datastore_source})"


def require_configured_store(args: argparse.Namespace, command: str) -> None:
    """Refuse to fall back on the embedded default: a long-running command needs a chosen store."""
    if args.datastore is not None:
        return
    settings = load_settings(datastore=None, serializer=args.serializer)
    if settings.datastore_source == "default":
        raise ConfigurationError(
            f"no datastore configured: {command} needs one (--datastore URL, "
            f'${DATASTORE_ENV}, or datastore = "..." under [tool.taskshed] in pyproject.toml); '
            f"only `taskshed demo` falls back on {settings.datastore}"
        )
