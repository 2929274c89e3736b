"""Running a test under another local time zone, so "naive means local" can't pass as "naive means UTC"."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: A zone far from UTC with DST in both hemispheres' senses: naive-as-UTC is off by hours here.
AWAY_FROM_UTC = "America/Santiago"


@contextmanager
def local_time_zone(name: str = AWAY_FROM_UTC) -> Iterator[None]:
    """Make ``name`` this process's local zone (``TZ`` + ``time.tzset()``), then restore it."""
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
