"""``redis-server`` processes of the test's own: TLS, a unix socket, passwords, Cluster, Sentinel.

Faults are injected into these servers only, never into the shared one.
Persistence is off (``--save ""``, no AOF) as on a cache; :meth:`RedisServer.stop`
with ``save=True`` asks the server for one snapshot while it goes down
(``SHUTDOWN SAVE``), so that its data comes back with it, like a server restart.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.ports import free_port, port_open
from tests.support.services import require_tool
from tests.support.waiting import poll_until


def pings(**kwargs: object) -> Callable[[], bool]:
    """A readiness check: a redis-py client made with ``kwargs`` gets PONG."""

    def check() -> bool:
        client = redis.Redis(socket_timeout=1, **kwargs)  # type: ignore[arg-type]
        try:
            return bool(client.ping())
        finally:
            client.close()

    return check


class RedisServer:
    """One ``redis-server`` child process in ``folder``; nothing runs until :meth:`start`.

    ``args`` are passed through (``--port`` among them, or a free port is
    chosen); with ``sentinel=True`` they are the lines of a Sentinel
    configuration file instead. ``ready`` tells when the server serves
    (default: it answers PING on its port, with its ``--requirepass``).
    """

    def __init__(
        self,
        folder: Path,
        *args: str,
        ready: Callable[[], bool] | None = None,
        sentinel: bool = False,
    ) -> None:
        self.binary = require_tool("redis-server")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.args = args
        self.sentinel = sentinel
        if sentinel:
            self.port = int(next(line.split()[1] for line in args if line.startswith("port ")))
        elif "--port" in args:
            self.port = int(args[args.index("--port") + 1])
        else:
            self.port = free_port()
        self.password = args[args.index("--requirepass") + 1] if "--requirepass" in args else None
        self._ready = ready or pings(port=self.port, password=self.password)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.folder / "redis.log"

    def command(self) -> list[str]:
        if self.sentinel:
            conf = self.folder / "sentinel.conf"
            conf.write_text("\n".join([*self.args, f"logfile {self.log}"]) + "\n")
            return [self.binary, str(conf), "--sentinel"]
        port = [] if "--port" in self.args else ["--port", str(self.port)]
        return [
            self.binary, *port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", str(self.folder), "--dbfilename", "own.rdb",
            "--logfile", str(self.log), *self.args,
        ]  # fmt: skip

    def start(self, timeout: float = 15.0) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            self.command(), cwd=self.folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        self.starts += 1
        process = self.process

        def up() -> bool:
            if process.poll() is not None:
                log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
                raise RuntimeError(f"redis-server exited with {process.returncode}:\n{log}")
            return self._ready()

        poll_until(
            up, timeout=timeout, what=f"redis-server in {self.folder}", ignore=(redis.RedisError,)
        )

    def cli(self, *args: str, check: bool = True) -> str:
        """Run one command through redis-cli (the test's own admin channel)."""
        auth = ["--no-auth-warning", "-a", self.password] if self.password else []
        result = subprocess.run(
            [require_tool("redis-cli"), "-p", str(self.port), *auth, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"redis-cli {args}: {result.stderr}")
        return result.stdout.strip()

    def stop(self, *, save: bool = False, timeout: float = 10.0) -> None:
        """Stop the server: ``SHUTDOWN SAVE`` (data kept) or a plain terminate (data gone)."""
        if self.process is None or self.process.poll() is not None:
            return
        if save:
            self.cli("SHUTDOWN", "SAVE", check=False)
        else:
            self.process.terminate()
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
        try:
            self.stop(save=False)
        finally:
            self.kill()


@contextmanager
def running_redis(
    folder: Path, *args: str, ready: Callable[[], bool] | None = None, sentinel: bool = False
) -> Iterator[RedisServer]:
    """A started :class:`RedisServer`, stopped when the block ends."""
    server = RedisServer(folder, *args, ready=ready, sentinel=sentinel)
    try:
        server.start()
        yield server
    finally:
        server.close()
