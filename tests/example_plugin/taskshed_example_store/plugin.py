"""The plugin module the ``taskshed`` entry point names: it tells taskshed which URL scheme we serve."""

from __future__ import annotations

from taskshed import hookimpl
from taskshed.backends import DataStoreBackend
from taskshed.datastores.base import DataStore
from taskshed.serializers.base import Serializer
from taskshed.urls import URL


def open_example_store(url: URL, serializer: Serializer) -> DataStore:
    """``example://`` keeps tasks in this process; ``example:///some/file.json`` in a shared file."""
    from taskshed_example_store.store import ExampleDataStore

    return ExampleDataStore(path=url.path or None, serializer=serializer)


@hookimpl
def taskshed_datastore_backends() -> list[DataStoreBackend]:
    return [
        DataStoreBackend(
            schemes=("example",),
            factory=open_example_store,
            description="Example plugin: a dict in memory, or in a JSON file shared by processes.",
            examples=("example://", "example:///tmp/tasks.json"),
        )
    ]
