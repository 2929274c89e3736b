"""The example third-party plugin (tests/example_plugin) passes the suite, chosen by URL.

It is installed as its own distribution (``pip install -e tests/example_plugin``)
and found through its ``taskshed`` entry point, like any third-party plugin.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

import taskshed
from taskshed.datastores.base import DataStore
from taskshed.testing import DataStoreSuite
from tests.support.services import require_module

require_module("taskshed_example_store", install="pip install -e tests/example_plugin")


class ExampleStoreSuite(DataStoreSuite):
    async def write_malformed_record(
        self, store: DataStore, task_id: str, run_at: datetime
    ) -> None:
        from taskshed_example_store.store import ExampleDataStore

        assert isinstance(store, ExampleDataStore)
        await store.add_tasks([self.task(task_id, run_at)])
        async with store._records_for(write=True) as records:
            records[task_id]["kwargs"] = "{this is not JSON"

    async def plant_inconsistent_claim(
        self, store: DataStore, task_id: str, kind: str, lease_until: datetime
    ) -> None:
        from taskshed_example_store.store import ExampleDataStore

        from taskshed.timeutils import to_epoch_micros

        assert isinstance(store, ExampleDataStore)
        async with store._records_for(write=True) as records:
            if kind == "token_only":
                records[task_id].update(token="w/left-behind", lease_until=None)
            else:
                records[task_id].update(token=None, lease_until=to_epoch_micros(lease_until))


class TestExampleStoreInMemory(ExampleStoreSuite):
    """``example://``: a dict in this process."""

    shared_between_instances = False
    supports_multiple_processes = False
    persistent = False

    @pytest.fixture
    def datastore_url(self) -> str:
        return "example://"


class TestExampleStoreInAFile(ExampleStoreSuite):
    """``example:///path``: a JSON file shared by every process, so the full suite applies."""

    @pytest.fixture
    def datastore_url(self, tmp_path: Path) -> str:
        return f"example://{tmp_path / 'tasks.json'}"


def test_the_plugin_is_found_through_its_entry_point() -> None:
    pm = taskshed.create_plugin_manager(autoload=True)
    infos = {info.name: info for info in pm.infos}
    assert infos["example"].distribution == "taskshed-example-store"
    assert infos["example"].source == "entry point"
    store = taskshed.open_datastore("example://")
    assert type(store).__module__ == "taskshed_example_store.store"
