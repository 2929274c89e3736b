"""Built-in plugin: the in-memory datastore, ``memory://``."""

from __future__ import annotations

from taskshed.backends import DataStoreBackend
from taskshed.datastores.base import DataStore
from taskshed.datastores.memory import InMemoryDataStore
from taskshed.markers import hookimpl
from taskshed.serializers.base import Serializer
from taskshed.urls import URL


def _open(url: URL, serializer: Serializer) -> DataStore:
    return InMemoryDataStore(serializer=serializer)


@hookimpl
def taskshed_datastore_backends() -> list[DataStoreBackend]:
    return [
        DataStoreBackend(
            schemes=("memory",),
            factory=_open,
            description="In this process's memory; nothing survives a restart.",
            examples=("memory://",),
        )
    ]
