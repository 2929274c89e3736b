"""One virtual environment per peer under benchmarks/.venvs/ (the reference's ``taskshed`` clashes with ours)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from harness.peers import Peer

_STAMP = ".bench-requirements"


def _wanted(peer: Peer) -> str:
    return "\n".join(peer.requirements) + "\n"


def is_ready(peer: Peer) -> bool:
    """The venv exists and holds exactly the requirements the peer lists now."""
    if peer.is_ours:
        return True
    stamp = peer.venv / _STAMP
    return peer.python.exists() and stamp.exists() and stamp.read_text() == _wanted(peer)


def ensure(peer: Peer, log: object = print) -> None:
    """Create the peer's venv and install its requirements (skipped when already done)."""
    if is_ready(peer):
        return
    say = log if callable(log) else print
    say(f"  creating {peer.venv} and installing {' '.join(peer.requirements)}")
    if not peer.python.exists():
        # The base interpreter, not this venv's: a peer must not see our packages.
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(peer.venv)], check=True)
    subprocess.run(
        [
            str(peer.python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *peer.requirements,
        ],
        check=True,
    )
    (peer.venv / _STAMP).write_text(_wanted(peer))


def packages(peer: Peer) -> dict[str, str]:
    """Name -> version of what is installed in the peer's interpreter."""
    result = subprocess.run(
        [str(peer.python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    )
    found: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, sep, version = line.partition("==")
        if sep:
            found[name.lower()] = version
    return found


def requirements_digest(peer: Peer) -> str:
    return hashlib.sha256(_wanted(peer).encode()).hexdigest()[:12]
