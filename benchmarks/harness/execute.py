"""Running one driver invocation in a peer's interpreter, with a time limit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.peers import DRIVERS, Peer


@dataclass
class Outcome:
    """What one run produced: metrics, a reason it does not apply, or an error."""

    status: str  # "ok", "na" or "error"
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    seconds: float = 0.0
    stderr: str = ""


def run_driver(
    peer: Peer, workload: str, store: str, params: dict[str, Any], timeout: float
) -> Outcome:
    """``python <driver> --workload ... --store ... --params ...`` in the peer's interpreter.

    The driver runs in its own process group, so that on a timeout the worker
    processes it started go down with it.
    """
    command = [
        str(peer.python),
        str(peer.driver_path),
        "--workload", workload,
        "--store", store,
        "--params", json.dumps(params),
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=DRIVERS,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Stacks first (threads, then asyncio tasks; see drivers/common.py), for the log.
        for diagnose in (signal.SIGUSR1, signal.SIGUSR2):
            try:
                os.killpg(process.pid, diagnose)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return Outcome(
            "error",
            reason=f"killed after the {timeout:.0f} s limit",
            seconds=time.monotonic() - started,
            stderr=stderr[-20000:],
        )
    elapsed = time.monotonic() - started
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    try:
        payload = json.loads(last)
    except json.JSONDecodeError:
        payload = None
    if process.returncode != 0 or not isinstance(payload, dict):
        tail = (
            stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {process.returncode}"
        )
        return Outcome("error", reason=tail[:300], seconds=elapsed, stderr=stderr[-4000:])
    if "na" in payload:
        return Outcome("na", reason=str(payload["na"]), seconds=elapsed)
    return Outcome("ok", metrics=payload.get("metrics", {}), seconds=elapsed, stderr=stderr[-2000:])


def service_reachable(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def write_log(folder: Path, name: str, text: str) -> None:
    if text.strip():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
