"""The whole taskshed.testing conformance suite against the real Redis."""

from __future__ import annotations

import uuid

import pytest

from taskshed.testing import DataStoreSuite

pytestmark = pytest.mark.redis


class TestRedisConformance(DataStoreSuite):
    """Times are kept exactly to the microsecond (epoch-second floats, read back via integer microseconds)."""

    @pytest.fixture
    def datastore_url(self, redis_url: str) -> str:
        # A prefix of its own per test, so that remove_all_tasks() between
        # tests never touches another test's (or another helper's) keys.
        return f"{redis_url}?prefix=tstest-{uuid.uuid4().hex}"
