"""Reaching Redis: RedisConfig, URLs (redis, rediss, unix), an injected client, and hidden passwords."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from taskshed_redis import RedisConfig, RedisDataStore
from taskshed_redis.config import parse_url

import taskshed.datastores
from taskshed.config import open_datastore
from taskshed.errors import ConfigurationError, DataStoreError
from tests.redis.helpers import T0, Raw, once
from tests.support.ports import free_port
from tests.support.redis_server import pings, running_redis
from tests.support.tls import make_certificates

SECRET = "s3cret-Pa55word"


# ---------------------------------------------------------------- configuration


def test_the_core_reexports_the_plugin_classes() -> None:
    assert taskshed.datastores.RedisDataStore is RedisDataStore
    assert taskshed.datastores.RedisConfig is RedisConfig


def test_reference_config_defaults() -> None:
    config = RedisConfig()
    assert (
        config.host,
        config.port,
        config.username,
        config.password,
        config.unix_socket_path,
        config.ssl,
        config.db,
    ) == (
        "localhost",
        6379,
        None,
        None,
        None,
        False,
        0,
    )
    # positional, as 0.10 allowed
    assert RedisConfig("h", 1, "u", "p").port == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", dict(host="localhost", port=6379, db=0, ssl=False)),
        (
            "redis://u:p%40ss@redis.example:6380/4",
            dict(host="redis.example", port=6380, db=4, username="u", password="p@ss"),
        ),
        (
            "rediss://:pw@secure:6390/1",
            dict(host="secure", port=6390, db=1, ssl=True, password="pw", username=None),
        ),
        ("unix:///run/redis.sock?db=3", dict(unix_socket_path="/run/redis.sock", db=3)),
        (
            "unix://:pw@/run/redis.sock",
            dict(unix_socket_path="/run/redis.sock", db=0, password="pw"),
        ),
    ],
)
def test_url_forms(url: str, expected: dict[str, object]) -> None:
    config = parse_url(url).config
    for name, value in expected.items():
        assert getattr(config, name) == value, name


def test_url_store_options() -> None:
    options = parse_url("redis://localhost/0?prefix=myapp&hash_tag=1")
    assert (options.prefix, options.hash_tag) == ("myapp", True)
    store = open_datastore("redis://localhost/0?prefix=myapp&hash_tag=true")
    assert isinstance(store, RedisDataStore)
    assert store.keys.queue == "{myapp}:task_queue"


@pytest.mark.parametrize(
    "url", ["redis://localhost/0?colour=red", "redis://localhost/x", "unix://"]
)
def test_bad_urls_are_refused_without_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_url(url.replace("://", f"://user:{SECRET}@", 1) if "localhost" in url else url)
    assert SECRET not in str(info.value)


def test_passwords_stay_out_of_repr() -> None:
    config = RedisConfig(password=SECRET)
    assert SECRET not in repr(config)
    assert SECRET not in repr(RedisDataStore(config))
    assert SECRET not in repr(open_datastore(f"redis://user:{SECRET}@localhost:6379/0"))


# ---------------------------------------------------------------- live connections


@pytest.mark.redis
async def test_an_unreachable_server_is_a_datastore_error_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = RedisDataStore(RedisConfig(host="127.0.0.1", port=free_port(), password=SECRET))
    # start() checks the connection, so the failure comes at once, not at the first write.
    with caplog.at_level(logging.DEBUG), pytest.raises(DataStoreError) as info:
        await store.start()
    await store.shutdown()
    assert "connect" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in caplog.text


@pytest.mark.redis
async def test_a_rejected_password_is_a_datastore_error_without_the_password(
    redis_config: RedisConfig,
) -> None:
    config = RedisConfig(
        host=redis_config.host, port=redis_config.port, username="nobody", password=SECRET
    )
    store = RedisDataStore(config)
    with pytest.raises(DataStoreError) as info:
        await store.start()
    await store.shutdown()
    assert SECRET not in str(info.value)


@pytest.mark.redis
async def test_an_injected_client_is_used_and_not_closed(
    redis_config: RedisConfig, prefix: str, raw: Raw
) -> None:
    client = aioredis.Redis(**{**redis_config.client_kwargs(), "decode_responses": True})
    store = RedisDataStore(client=client, prefix=prefix)
    await store.start()
    await store.add_tasks([once("a", kwargs={"x": "ü"})])
    assert [t.kwargs for t in await store.fetch_tasks(["a"])] == [{"x": "ü"}]
    await store.shutdown()
    assert await client.exists(f"{prefix}:task:a") == 1  # still open
    await client.aclose()


@pytest.mark.redis
async def test_the_db_number_is_used(redis_config: RedisConfig, prefix: str) -> None:
    # Not the configured database (the other tests' keys live there), and not 0 (the default).
    db = 1 if redis_config.db not in (0, 1) else redis_config.db + 1
    config = RedisConfig(host=redis_config.host, port=redis_config.port, db=db)
    store = RedisDataStore(config, prefix=prefix)
    await store.start()
    elsewhere = aioredis.Redis(host=redis_config.host, port=redis_config.port, db=0)
    chosen = aioredis.Redis(host=redis_config.host, port=redis_config.port, db=db)
    try:
        await store.add_tasks([once("a")])
        info = (await store.client.execute_command("CLIENT", "INFO")).decode()
        assert f" db={db} " in info, info
        assert await chosen.exists(f"{prefix}:task:a") == 1
        assert await elsewhere.exists(f"{prefix}:task:a") == 0
    finally:
        await store.remove_all_tasks()
        await store.shutdown()
        await elsewhere.aclose()
        await chosen.aclose()


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "redis.sock"
    with running_redis(
        tmp_path / "unix",
        "--port", "0", "--unixsocket", str(path),
        ready=pings(unix_socket_path=str(path)),
    ):  # fmt: skip
        yield path


async def test_a_unix_socket_url(unix_socket: Path) -> None:
    store = open_datastore(f"unix://{unix_socket}?db=2")
    await store.start()
    try:
        await store.add_tasks([once("a")])
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0, limit=1)
        assert [c.task_id for c in claims] == ["a"]
    finally:
        await store.shutdown()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    certs = make_certificates(tmp_path / "tls")
    port = free_port()
    args = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(certs["server.crt"]),
            "--tls-key-file", str(certs["server.key"]), "--tls-ca-cert-file", str(certs["ca.crt"]),
            "--tls-auth-clients", "no"]  # fmt: skip
    ready = pings(host="localhost", port=port, ssl=True, ssl_ca_certs=str(certs["ca.crt"]))
    with running_redis(tmp_path / "tls-redis", *args, ready=ready):
        yield port, certs["ca.crt"]


async def test_a_rediss_url_speaks_tls(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    store = open_datastore(f"rediss://localhost:{port}/0?ssl_ca_certs={cert}")
    await store.start()
    try:
        await store.add_tasks([once("a")])
        assert [t.task_id for t in await store.fetch_tasks(["a"])] == ["a"]
    finally:
        await store.shutdown()
    # without the CA the server's certificate is not trusted
    untrusted = open_datastore(f"rediss://localhost:{port}/0")
    with pytest.raises(DataStoreError):
        await untrusted.start()
    await untrusted.shutdown()


async def test_the_store_recovers_when_the_server_restarts(tmp_path: Path) -> None:
    port = free_port()
    store = RedisDataStore(RedisConfig(host="127.0.0.1", port=port), prefix="restart")
    with running_redis(tmp_path / "first", "--port", str(port)):
        await store.start()
        await store.add_tasks([once("a")])
    with pytest.raises(DataStoreError):
        await store.fetch_tasks(["a"])
    # a new, empty server on the same port: the scripts are loaded again on first use
    with running_redis(tmp_path / "second", "--port", str(port)):
        await store.add_tasks([once("b")])
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0, limit=5)
        assert [c.task_id for c in claims] == ["b"]
    await store.shutdown()
