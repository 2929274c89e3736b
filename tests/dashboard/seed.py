"""A store with one task of every kind the dashboard shows, some with hostile names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from taskshed.datastores.base import DataStore
from taskshed.models import Task
from taskshed.worker_info import WorkerInfo

#: Markup that must never reach a page unescaped (ids, groups, kwargs, errors are user input).
HOSTILE_ID = "<script>alert('id')</script>"
HOSTILE_GROUP = '"><img src=x onerror=alert(1)>'
HOSTILE_CALLBACK = "cb<svg/onload=alert(2)>"
HOSTILE_KWARG = "</pre><script>alert('kwargs')</script>"
HOSTILE_ERROR = "RuntimeError: <iframe src=javascript:alert(3)>"
HOSTILE_STRINGS = (HOSTILE_ID, HOSTILE_GROUP, HOSTILE_CALLBACK, HOSTILE_KWARG, HOSTILE_ERROR)

WORKER_ID = "worker-dash-1"
SECRET_KWARG = "patient-record-4711"


@dataclass(frozen=True)
class Seeded:
    now: datetime
    #: id -> the state it has right after seeding.
    states: dict[str, str]


async def seed(store: DataStore, now: datetime | None = None) -> Seeded:
    """Add the tasks (and one worker with a claim); ``now`` is the store's clock by default."""
    now = now or await store.current_time()
    minute = timedelta(minutes=1)
    tasks = [
        Task(
            task_id="report-daily",
            callback="reports.build",
            run_type="cron",
            cron="30 9 * * mon-fri",
            timezone="Europe/Paris",
            group_id="reports",
            kwargs={"recipients": ["ops@example.com"], "format": "pdf"},
        ),
        Task(
            task_id="heartbeat",
            callback="monitor.ping",
            run_type="recurring",
            interval=timedelta(minutes=15),
            run_at=now + 5 * minute,
            group_id="monitoring",
            kwargs={"target": "https://example.com/health"},
        ),
        Task(
            task_id="email-42",
            callback="mail.send",
            run_at=now + 30 * minute,
            group_id="mail",
            kwargs={"to": "someone@example.com", "patient": SECRET_KWARG},
        ),
        Task(
            task_id="email-43",
            callback="mail.send",
            run_at=now + 31 * minute,
            group_id="mail",
            kwargs={"to": "other@example.com"},
        ),
        Task(
            task_id="cleanup-paused",
            callback="db.cleanup",
            run_at=now + 60 * minute,
            paused=True,
            group_id="maintenance",
        ),
        Task(
            task_id="overdue-1",
            callback="mail.send",
            run_at=now - 10 * minute,
            group_id="mail",
        ),
        Task(
            task_id="invoice-failed",
            callback="billing.invoice",
            run_at=now - 120 * minute,
            failed_at=now - 100 * minute,
            attempts=3,
            max_attempts=3,
            last_error="ConnectionError: payment gateway timed out",
            last_run_at=now - 100 * minute,
        ),
        Task(
            task_id="claimed-1",
            callback="video.encode",
            run_at=now - 2 * minute,
            kwargs={"file": "a.mp4"},
        ),
        Task(
            task_id=HOSTILE_ID,
            callback=HOSTILE_CALLBACK,
            run_at=now + 90 * minute,
            group_id=HOSTILE_GROUP,
            kwargs={"html": HOSTILE_KWARG},
        ),
        Task(
            task_id="hostile-failed",
            callback="x.fail",
            run_at=now - 200 * minute,
            failed_at=now - 190 * minute,
            attempts=1,
            last_error=HOSTILE_ERROR,
            group_id=HOSTILE_GROUP,
        ),
    ]
    await store.add_tasks(tasks)
    claims = await store.acquire_tasks(
        worker_id=WORKER_ID,
        now=now,
        lease_until=now + timedelta(minutes=10),
        limit=1,
        callbacks=["video.encode"],
    )
    assert [c.task_id for c in claims] == ["claimed-1"], claims
    await store.register_worker(
        WorkerInfo(
            worker_id=WORKER_ID,
            host="host-a",
            pid=4242,
            started_at=now - 60 * minute,
            heartbeat_at=now,
            expires_at=now + 30 * minute,
            running=1,
            held=1,
            callbacks=("video.encode",),
            kind="event",
            version="1.0.0",
        )
    )
    states = {
        "report-daily": "scheduled",
        "heartbeat": "scheduled",
        "email-42": "scheduled",
        "email-43": "scheduled",
        "cleanup-paused": "paused",
        "overdue-1": "due",
        "invoice-failed": "failed",
        "claimed-1": "claimed",
        HOSTILE_ID: "scheduled",
        "hostile-failed": "failed",
    }
    return Seeded(now=now, states=states)


def expected_counts(seeded: Seeded) -> dict[str, int]:
    counts = {"all": len(seeded.states)}
    for state in seeded.states.values():
        counts[state] = counts.get(state, 0) + 1
    return counts
