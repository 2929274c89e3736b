"""What a worker tells the store about itself: the worker registry's records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class WorkerInfo:
    """One live worker, as it registers itself and renews (every third of its lease).

    A worker whose ``expires_at`` has passed (it stopped heartbeating: killed,
    frozen, partitioned) is no longer listed by ``fetch_workers``.
    """

    worker_id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    #: Callbacks running now, and claims held (running or waiting to start).
    running: int = 0
    held: int = 0
    #: The callback names this worker serves (it claims only these).
    callbacks: tuple[str, ...] = field(default_factory=tuple)
    #: "event" or "polling".
    kind: str = ""
    version: str = ""
