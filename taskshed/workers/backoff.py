"""Delays that grow: retrying a failing datastore, and retrying a failed callback."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta


def as_timedelta(value: timedelta | float, what: str) -> timedelta:
    """A duration given as a ``timedelta`` or a number of seconds; it must be positive."""
    if isinstance(value, bool) or not isinstance(value, (timedelta, int, float)):
        raise TypeError(f"{what} must be a timedelta or a number of seconds, not {value!r}")
    try:
        duration = value if isinstance(value, timedelta) else timedelta(seconds=value)
    except (OverflowError, ValueError):
        raise ValueError(f"{what} {value!r} is out of range.") from None
    if duration <= timedelta(0):
        raise ValueError(f"{what} must be positive.")
    return duration


def exponential_delay(
    initial: float, maximum: float, failures: int, rng: random.Random | None = None
) -> float:
    """``initial * 2**(failures-1)`` seconds, capped at ``maximum``, then jittered to 50-100 %.

    The jitter spreads workers (or retries) that failed together, so they don't
    come back together.
    """
    ceiling = min(maximum, initial * 2 ** min(failures - 1, 64))
    return ceiling * (rng or random).uniform(0.5, 1.0)


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``initial * 2**n`` seconds, capped at ``maximum``."""

    initial: float = 0.25
    maximum: float = 30.0
    failures: int = 0
    rng: random.Random | None = field(default=None, repr=False)

    def next_delay(self) -> float:
        self.failures += 1
        return exponential_delay(self.initial, self.maximum, self.failures, self.rng)

    def reset(self) -> None:
        self.failures = 0
