"""What plugins hand the host: descriptions of datastore and serializer backends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskshed.datastores.base import DataStore
    from taskshed.serializers.base import Serializer
    from taskshed.urls import URL


@dataclass(frozen=True)
class DataStoreBackend:
    """A datastore a plugin provides, for the URL ``schemes`` it serves.

    ``factory(url, serializer)`` builds an unstarted store; it may import
    drivers lazily, so that listing plugins stays cheap.
    """

    schemes: tuple[str, ...]
    factory: Callable[[URL, Serializer], DataStore]
    description: str = ""
    #: URL forms to show in help and errors, e.g. ``redis://host:6379/0``.
    examples: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SerializerBackend:
    """A serializer a plugin provides under ``name``."""

    name: str
    factory: Callable[[], Serializer]
    description: str = ""
