"""A worker's settings, checked once at construction with a clear error for each bad value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from taskshed.workers.backoff import as_timedelta

MIN_LEASE = timedelta(seconds=1)
MAX_LEASE = timedelta(days=1)
MAX_BATCH_SIZE = 10_000
MAX_CONCURRENCY = 100_000
MAX_ATTEMPTS = 1000
MAX_SHUTDOWN_TIMEOUT = timedelta(days=1)


def _count(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low:,} and {high:,}, not {value:,}")
    return value


def _seconds(value: timedelta | float, what: str, *, zero: bool = False) -> timedelta:
    if zero and not isinstance(value, bool) and value in (0, 0.0, timedelta(0)):
        return timedelta(0)
    return as_timedelta(value, what)


@dataclass(frozen=True)
class WorkerOptions:
    """Every tunable of a worker, validated (see docs/api.md for what each does)."""

    max_concurrency: int = 100
    lease: timedelta = timedelta(seconds=30)
    batch_size: int = 100
    shutdown_timeout: timedelta = timedelta(seconds=30)
    shutdown_grace: timedelta = timedelta(seconds=5)
    prefetch: timedelta = timedelta(0)
    max_attempts: int = 1
    retry_backoff: timedelta = timedelta(seconds=1)
    retry_backoff_max: timedelta = timedelta(hours=1)
    timeout: timedelta | None = None
    loop_block_warning: timedelta = timedelta(seconds=1)

    @classmethod
    def build(
        cls,
        *,
        max_concurrency: int = 100,
        lease: timedelta | float = timedelta(seconds=30),
        batch_size: int = 100,
        shutdown_timeout: timedelta | float = 30.0,
        shutdown_grace: timedelta | float = 5.0,
        prefetch: timedelta | float = 0.0,
        max_attempts: int = 1,
        retry_backoff: timedelta | float = 1.0,
        retry_backoff_max: timedelta | float = 3600.0,
        timeout: timedelta | float | None = None,
        loop_block_warning: timedelta | float = 1.0,
    ) -> WorkerOptions:
        lease_td = _seconds(lease, "lease")
        if not MIN_LEASE <= lease_td <= MAX_LEASE:
            raise ValueError(
                f"lease must be between {MIN_LEASE.total_seconds():g} s and one day, "
                f"not {lease_td.total_seconds():g} s"
            )
        prefetch_td = _seconds(prefetch, "prefetch", zero=True)
        if prefetch_td >= lease_td / 3:
            raise ValueError(
                f"prefetch ({prefetch_td.total_seconds():g} s) must be less than a third of the "
                f"lease ({lease_td.total_seconds():g} s): a task claimed that early could outlive "
                "its lease before it starts"
            )
        shutdown = _seconds(shutdown_timeout, "shutdown_timeout", zero=True)
        if shutdown > MAX_SHUTDOWN_TIMEOUT:
            raise ValueError("shutdown_timeout must be at most one day")
        backoff = _seconds(retry_backoff, "retry_backoff")
        backoff_max = _seconds(retry_backoff_max, "retry_backoff_max")
        if backoff_max < backoff:
            raise ValueError("retry_backoff_max must not be less than retry_backoff")
        return cls(
            max_concurrency=_count(max_concurrency, "max_concurrency", 1, MAX_CONCURRENCY),
            lease=lease_td,
            batch_size=_count(batch_size, "batch_size", 1, MAX_BATCH_SIZE),
            shutdown_timeout=shutdown,
            shutdown_grace=_seconds(shutdown_grace, "shutdown_grace", zero=True),
            prefetch=prefetch_td,
            max_attempts=_count(max_attempts, "max_attempts", 1, MAX_ATTEMPTS),
            retry_backoff=backoff,
            retry_backoff_max=backoff_max,
            timeout=None if timeout is None else _seconds(timeout, "timeout"),
            loop_block_warning=_seconds(loop_block_warning, "loop_block_warning"),
        )

    @property
    def heartbeat_period(self) -> float:
        """Seconds between lease renewals: a third of the lease."""
        return self.lease.total_seconds() / 3
