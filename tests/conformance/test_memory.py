"""The built-in in-memory store passes the conformance suite."""

from __future__ import annotations

import pytest

from taskshed.testing import DataStoreSuite


class TestInMemoryDataStore(DataStoreSuite):
    # Each InMemoryDataStore is its own store, alive only in this process.
    shared_between_instances = False
    supports_multiple_processes = False
    persistent = False

    @pytest.fixture
    def datastore_url(self) -> str:
        return "memory://"
