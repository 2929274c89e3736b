"""The hooks a taskshed plugin may implement (mark implementations with ``taskshed.hookimpl``).

None of these hooks is first-result: the host calls every implementation and
collects the answers into a registry keyed by name, so which plugin serves a
URL scheme never depends on the order plugins were registered in.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from taskshed.backends import DataStoreBackend, SerializerBackend
from taskshed.markers import hookspec

# ---------------------------------------------------------------- discovery


@hookspec
def taskshed_datastore_backends() -> Sequence[DataStoreBackend]:
    """Return the datastores this plugin provides.

    :return: One :class:`~taskshed.backends.DataStoreBackend` per store, each
        naming the URL schemes it serves. Two plugins claiming one scheme is a
        :class:`~taskshed.errors.DuplicateBackendError` when that scheme is used.
    """
    raise NotImplementedError


@hookspec
def taskshed_serializers() -> Sequence[SerializerBackend]:
    """Return the serializers this plugin provides, each under a unique name."""
    raise NotImplementedError


# ---------------------------------------------------------------- command line


@hookspec
def taskshed_add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add sub-commands to the ``taskshed`` command line.

    :param subparsers: The ``add_subparsers()`` object of the top-level parser.
        Each command sets ``func=`` (``callable(args) -> int``) with
        ``set_defaults``.
    """
