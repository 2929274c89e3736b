"""Options several commands share."""

from __future__ import annotations

import argparse

from taskshed.config import load_settings, open_datastore
from taskshed.datastores.base import DataStore


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
    return f"{settings.datastore} (from {settings.datastore_source})"
