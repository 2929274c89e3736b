"""Certificates made for the run: a private CA and a server certificate it signed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.services import require_tool


def make_certificates(folder: Path) -> dict[str, Path]:
    """``ca.crt``, ``server.crt`` and ``server.key`` for 127.0.0.1 and localhost, valid a day."""
    openssl = require_tool("openssl")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        name: folder / name
        for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt", "san.ext")
    }
    paths["san.ext"].write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(paths["ca.key"]),
        "-out", str(paths["ca.crt"]), "-days", "1", "-subj", "/CN=taskshed-tests-ca")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(paths["server.key"]),
        "-out", str(paths["server.csr"]), "-subj", "/CN=127.0.0.1")  # fmt: skip
    run("x509", "-req", "-in", str(paths["server.csr"]), "-CA", str(paths["ca.crt"]),
        "-CAkey", str(paths["ca.key"]), "-CAcreateserial", "-out", str(paths["server.crt"]),
        "-days", "1", "-extfile", str(paths["san.ext"]))  # fmt: skip
    return paths
