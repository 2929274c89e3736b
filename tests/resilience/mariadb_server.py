"""A MariaDB server of the test's own (mariadb-install-db on a spare port), with TLS.

The shared MariaDB has TLS disabled; this one serves TLS with a certificate
made for the run, so ``?ssl_ca=`` can be tested end to end. Needs the server
binaries (skipped locally without them, failed in CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.ports import free_port
from tests.support.services import require_tool


class OwnMariaDB:
    def __init__(self, *, tls: dict[str, Path]) -> None:
        install = require_tool("mariadb-install-db")
        server = require_tool("mariadbd", also=("/usr/sbin/mariadbd",))
        self.client = require_tool("mariadb", also=("/usr/bin/mysql",))
        # Its own folder, reachable by the mysql user the server runs as.
        self.folder = Path(tempfile.mkdtemp(prefix="tsres-my-"))
        os.chmod(self.folder, 0o755)
        self.port = free_port()
        user = ["--user=mysql"] if os.geteuid() == 0 else []
        for name in ("ca.crt", "server.crt", "server.key"):
            shutil.copy(tls[name], self.folder / name)
        result = subprocess.run(
            [install, "--no-defaults", f"--datadir={self.folder / 'data'}", *user,
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {result.stderr[-2000:]}")
        if user:
            subprocess.run(["chown", "-R", "mysql", str(self.folder)], check=True)
        self.process = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={self.folder / 'data'}", *user,
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.folder / 'sock'}",
             f"--pid-file={self.folder / 'pid'}", f"--log-error={self.folder / 'err.log'}",
             "--innodb-buffer-pool-size=16M", f"--ssl-ca={self.folder / 'ca.crt'}",
             f"--ssl-cert={self.folder / 'server.crt'}", f"--ssl-key={self.folder / 'server.key'}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.folder / "err.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"mariadbd did not start:\n{log}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        if not (self.folder / "sock").exists():
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def sql(self, statement: str) -> None:
        """Run a statement as root over the server's socket (the test's admin channel)."""
        subprocess.run(
            [self.client, "--no-defaults", f"--socket={self.folder / 'sock'}", "-uroot", "-e", statement],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
