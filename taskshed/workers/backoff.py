"""Retry delays for a worker whose datastore is failing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


def as_timedelta(value: timedelta | float, what: str) -> timedelta:
    """A duration given as a ``timedelta`` or a number of seconds; it must be positive."""
    if isinstance(value, bool) or not isinstance(value, (timedelta, int, float)):
        raise TypeError(f"{what} must be a timedelta or a number of seconds, not {value!r}")
    duration = value if isinstance(value, timedelta) else timedelta(seconds=value)
    if duration <= timedelta(0):
        raise ValueError(f"{what} must be positive.")
    return duration


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``initial * 2**n`` seconds, capped at ``maximum``."""

    initial: float = 0.25
    maximum: float = 30.0
    failures: int = 0

    def next_delay(self) -> float:
        self.failures += 1
        ceiling = min(self.maximum, self.initial * 2 ** (self.failures - 1))
        return ceiling * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0
