"""A redis-server of the test's own, on a spare port, that a test may stop and start again.

Faults are injected into this server only, never into the shared one on 6379.
Persistence is off (``--save ""``, no AOF) as on a cache; :meth:`OwnRedis.stop`
with ``save=True`` asks the server for one snapshot while it goes down
(``SHUTDOWN SAVE``) so that its data comes back with it, like a server restart.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class OwnRedis:
    """``redis-server`` as a child process of the test."""

    def __init__(self, folder: Path, *, port: int | None = None, extra: tuple[str, ...] = ()):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.folder),
            "--dbfilename", "own.rdb",
            "--logfile", str(self.folder / "redis.log"),
            *self.extra,
        ]  # fmt: skip

    def start(self, timeout: float = 10.0) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None:
                log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n{log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server not ready on port {self.port}")
            time.sleep(0.02)

    def ready(self) -> bool:
        """The server answers PING (with TLS only, a plain TCP connect is the best we can do)."""
        if "--tls-port" in self.extra:
            return port_open(self.tls_port())
        return self.cli("PING", check=False) == "PONG"

    def tls_port(self) -> int:
        return int(self.extra[self.extra.index("--tls-port") + 1])

    def cli(self, *args: str, check: bool = True) -> str:
        """Run one command through redis-cli (the test's own admin channel)."""
        auth: list[str] = []
        if "--requirepass" in self.extra:
            auth = ["--no-auth-warning", "-a", self.extra[self.extra.index("--requirepass") + 1]]
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *auth, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"redis-cli {args}: {result.stderr}")
        return result.stdout.strip()

    def stop(self, *, save: bool = False, timeout: float = 10.0) -> None:
        """Stop the server: ``SHUTDOWN SAVE`` (data kept) or ``SHUTDOWN NOSAVE`` (data gone)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.cli("SHUTDOWN", "SAVE" if save else "NOSAVE", check=False)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        deadline = time.monotonic() + timeout
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the server (a crash: whatever was not saved is gone)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.stop(save=False)
        self.kill()
