"""A PostgreSQL server of the test's own (initdb on a spare port), with password auth and TLS.

The shared server on 5432 trusts every local connection and has TLS off; this
one checks passwords (scram-sha-256) and can serve TLS with a certificate
made for the run. It runs as the ``postgres`` system user (PostgreSQL refuses
to run as root), so the test needs root or that user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.ports import free_port
from tests.support.services import missing, require_tool


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class OwnPostgres:
    def __init__(self, password: str, *, tls: dict[str, Path] | None = None) -> None:
        bindir = _binaries()
        if bindir is None:
            missing("PostgreSQL server binaries (initdb) are not installed")
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = [require_tool("runuser"), "-u", "postgres", "--"]
        self.bindir = bindir
        # Its own folder under the system temp dir: the postgres user must be able
        # to reach it, which pytest's per-user tmp_path does not allow.
        folder = Path(tempfile.mkdtemp(prefix="tsres-pg-"))
        os.chmod(folder, 0o755)
        self.folder = folder
        self.port = free_port()
        pwfile = folder / "pw"
        pwfile.write_text(password + "\n")
        options = [
            f"-p {self.port}",
            f"-k {folder}",
            "-c listen_addresses=127.0.0.1",
            "-c fsync=off",
        ]
        if tls is not None:
            for name in ("server.crt", "server.key"):
                shutil.copy(tls[name], folder / name)
                os.chmod(folder / name, 0o600)
            options += [
                "-c ssl=on",
                f"-c ssl_cert_file={folder / 'server.crt'}",
                f"-c ssl_key_file={folder / 'server.key'}",
            ]
        if self.as_user:
            subprocess.run(["chown", "-R", "postgres", str(folder)], check=True)
        self._run("initdb", "-D", str(folder / "data"), "-A", "scram-sha-256", "-U", "postgres",
                  f"--pwfile={pwfile}", "-N")  # fmt: skip
        self._run("pg_ctl", "-D", str(folder / "data"), "-o", " ".join(options),
                  "-l", str(folder / "log"), "-w", "start")  # fmt: skip
        self.running = True

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self.as_user, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stdout[-1500:]} {result.stderr[-1500:]}")

    def stop(self) -> None:
        try:
            if self.running:
                self.running = False
                self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
