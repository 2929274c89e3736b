"""Private redis-server processes for the connection tests: a unix socket, TLS, Sentinel, Cluster.

They are started from the ``redis-server`` on PATH in a temporary folder and
stopped by the fixture that started them; tests that need one are skipped
when ``redis-server`` is not installed.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randrange(20000, 30000)
        if all(_bindable(p) for p in (port, port + 10000)):
            return port
    raise AssertionError("no free port pair for a cluster node")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} not ready within {timeout} s")


@contextmanager
def redis_server(
    folder: Path, args: Sequence[str], ready: Callable[[], bool], *, sentinel: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """Run one ``redis-server`` with ``args`` until the block ends."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    command = [REDIS_SERVER]
    if sentinel:
        conf = folder / "sentinel.conf"
        conf.write_text("\n".join(args) + "\n")
        command += [str(conf), "--sentinel"]
    else:
        command += ["--save", "", "--appendonly", "no", "--dir", str(folder), *args]
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    try:
        wait_until(lambda: proc.poll() is None and ready(), 15, f"redis-server in {folder}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def pings(**kwargs: object) -> Callable[[], bool]:
    def check() -> bool:
        client = redis.Redis(socket_timeout=1, **kwargs)  # type: ignore[arg-type]
        try:
            return bool(client.ping())
        finally:
            client.close()

    return check
