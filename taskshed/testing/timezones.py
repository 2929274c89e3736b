"""Running code under another local time zone, for tests of what naive datetimes mean.

Naive datetimes are local time everywhere in taskshed. On a machine whose zone
is UTC a store that reads them as UTC passes every test, so the tests that
check the rule switch the process to a zone far from UTC first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Far from UTC all year (+05:30, no daylight saving): a naive time read as UTC is 5.5 h off.
FAR_FROM_UTC = "Asia/Kolkata"
#: Far from UTC with daylight saving (southern hemisphere): naive-as-UTC is off by hours.
AWAY_FROM_UTC = "America/Santiago"


@contextmanager
def local_timezone(name: str = FAR_FROM_UTC) -> Iterator[None]:
    """Make ``name`` the process's local zone (``TZ`` and :func:`time.tzset`) inside the block.

    The previous ``TZ`` is restored afterwards, even when the block raises.
    It changes the whole process: threads running meanwhile see the new zone too.
    """
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
