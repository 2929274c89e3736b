"""Names of this test run's own: databases, logins, Redis key prefixes.

Several test runs may share the same servers at once (two developers, two
worktrees, pytest-xdist workers), so nothing a test creates on a shared server
may have a fixed name. Every name is built from :data:`RUN`, unique to this
process, and carries ``TASKSHED_TEST_NAMESPACE`` when it is set (letters and
digits only), so whoever owns a leftover can be told from its name.
"""

from __future__ import annotations

import os
import re
import secrets

#: ``TASKSHED_TEST_NAMESPACE`` reduced to what is safe in every identifier.
NAMESPACE = re.sub(r"[^a-z0-9]", "", os.environ.get("TASKSHED_TEST_NAMESPACE", "").lower())[:8]
#: Unique to this process: its pid and a few random characters (pids repeat across machines).
RUN = f"{os.getpid()}{secrets.token_hex(3)}"


def run_name(purpose: str) -> str:
    """A name for ``purpose`` (lowercase letters, digits, ``_``) unique to this run.

    Short enough for every server's identifiers (MariaDB users: 80, PostgreSQL: 63).
    """
    assert re.fullmatch(r"[a-z0-9_]{1,20}", purpose), purpose
    parts = ["ts", NAMESPACE, purpose, RUN]
    return "_".join(part for part in parts if part)


def unique_prefix(purpose: str = "t") -> str:
    """A Redis key prefix unique to one test (a new one on every call)."""
    return f"{run_name(purpose)}-{secrets.token_hex(6)}"
