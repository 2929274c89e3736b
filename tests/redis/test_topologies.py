"""Redis Cluster (three masters) and Sentinel, each run here on private redis-server processes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel
from taskshed_redis import RedisDataStore

from taskshed.claims import Completion
from taskshed.errors import ConfigurationError
from taskshed.models import TaskExecutionTime
from tests.redis.helpers import LEASE, SECOND, T0, every, once
from tests.support.ports import cluster_port, free_port
from tests.support.redis_server import running_redis
from tests.support.services import require_tool
from tests.support.waiting import poll_until

pytestmark = pytest.mark.slow


async def exercise(store: RedisDataStore) -> None:
    """Every kind of script once, as a smoke test of a topology."""
    await store.add_tasks(
        [once("a", group_id="g"), every("r", group_id="g"), once("b", T0 + SECOND)]
    )
    await store.add_tasks([once("a", group_id="h")], replace_existing=False)
    assert {t.task_id for t in await store.fetch_group_tasks("g")} == {"a", "r"}
    await store.update_tasks_paused_status(["b"], True)
    await store.update_group_paused_status("g", False)
    claims = {
        c.task_id: c
        for c in await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + LEASE, limit=10)
    }
    assert set(claims) == {"a", "r"}
    assert await store.extend_leases(list(claims.values()), T0 + 2 * LEASE) == {"a", "r"}
    assert await store.complete_tasks(
        [
            Completion("a", claims["a"].token, None),
            Completion("r", claims["r"].token, T0 + 60 * SECOND),
        ]
    ) == {"a", "r"}
    assert [t.task_id for t in await store.fetch_due_tasks(T0 + 60 * SECOND)] == ["r"]
    await store.update_execution_times([TaskExecutionTime(task_id="r", run_at=T0)])
    assert await store.fetch_next_wakeup() == T0
    await store.remove_group_tasks("g")
    await store.remove_tasks(["b"])
    await store.add_tasks([once("c")])
    await store.remove_all_tasks()
    assert await store.fetch_next_wakeup() is None


# ---------------------------------------------------------------- Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    redis_cli = require_tool("redis-cli")
    root = tmp_path_factory.mktemp("cluster")
    ports = [cluster_port() for _ in range(3)]
    with ExitStack() as stack:
        for port in ports:
            args = ["--port", str(port), "--cluster-enabled", "yes",
                    "--cluster-config-file", f"nodes-{port}.conf"]  # fmt: skip
            stack.enter_context(running_redis(root / str(port), *args))
        subprocess.run(
            [
                redis_cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )

        def cluster_ok() -> bool:
            return all(
                b"cluster_state:ok" in redis.Redis(port=p).execute_command("CLUSTER", "INFO")
                for p in ports
            )

        poll_until(cluster_ok, timeout=20, what="the cluster", ignore=(redis.RedisError,))
        yield ports


async def test_the_store_runs_on_redis_cluster(cluster: list[int]) -> None:
    client = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in cluster])
    try:
        store = RedisDataStore(client=client, prefix="cluster-test")
        assert store.keys.base == "{cluster-test}"  # a cluster client turns the hash tag on
        await store.start()
        await exercise(store)
        await store.shutdown()
    finally:
        await client.aclose()


async def test_a_cluster_client_without_a_hash_tag_is_refused(cluster: list[int]) -> None:
    client = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", cluster[0])])
    try:
        with pytest.raises(ConfigurationError):
            RedisDataStore(client=client, hash_tag=False)
    finally:
        await client.aclose()


# ---------------------------------------------------------------- Sentinel


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("sentinel")
    master, port = free_port(), free_port()
    with running_redis(root / "master", "--port", str(master)):
        conf = [f"port {port}", f"dir {root}", f"sentinel monitor taskshed 127.0.0.1 {master} 1"]

        def knows_master() -> bool:
            reply = redis.Redis(port=port).execute_command(
                "SENTINEL", "get-master-addr-by-name", "taskshed"
            )
            return reply is not None and int(reply[1]) == master

        with running_redis(root / "sentinel", *conf, ready=knows_master, sentinel=True):
            yield port


async def test_the_store_runs_through_sentinel(sentinel: int) -> None:
    client = Sentinel([("127.0.0.1", sentinel)]).master_for("taskshed")
    try:
        store = RedisDataStore(client=client, prefix="sentinel-test")
        await store.start()
        await exercise(store)
        await store.shutdown()
    finally:
        await client.aclose()
