"""A realistic schedule for screenshots and the page-load benchmark: groups, cron, failures, workers."""

from __future__ import annotations

from datetime import datetime, timedelta

from taskshed.datastores.base import DataStore
from taskshed.models import Task
from taskshed.worker_info import WorkerInfo


def showcase_tasks(now: datetime) -> list[Task]:
    minute = timedelta(minutes=1)
    tasks = [
        Task(
            task_id="report-weekly",
            callback="reports.weekly_summary",
            run_type="cron",
            cron="0 8 * * mon",
            timezone="Europe/Berlin",
            group_id="reports",
            kwargs={"team": "operations", "recipients": ["ops@example.com"], "format": "pdf"},
            max_attempts=3,
            retry_backoff=timedelta(minutes=5),
        ),
        Task(
            task_id="report-daily-sales",
            callback="reports.daily_sales",
            run_type="cron",
            cron="30 6 * * *",
            timezone="America/New_York",
            group_id="reports",
            kwargs={"regions": ["us-east", "us-west"]},
        ),
        Task(
            task_id="health-check",
            callback="monitor.ping",
            run_type="recurring",
            interval=timedelta(minutes=5),
            run_at=now + 2 * minute,
            group_id="monitoring",
            kwargs={"url": "https://shop.example.com/health"},
            jitter=timedelta(seconds=10),
        ),
        Task(
            task_id="cache-warmup",
            callback="cache.warm",
            run_type="recurring",
            interval=timedelta(hours=1),
            run_at=now + 17 * minute,
            group_id="monitoring",
        ),
        Task(
            task_id="db-vacuum",
            callback="maintenance.vacuum",
            run_type="cron",
            cron="0 3 * * sun",
            group_id="maintenance",
            paused=True,
        ),
    ]
    for i in range(12):
        tasks.append(
            Task(
                task_id=f"email-welcome-{1000 + i}",
                callback="mail.send_welcome",
                run_at=now + (3 + 4 * i) * minute,
                group_id="onboarding",
                kwargs={"user_id": 1000 + i, "locale": "en"},
            )
        )
    for i in range(8):
        failed = i in (1, 5)
        tasks.append(
            Task(
                task_id=f"invoice-{2288 + i}",
                callback="billing.send_invoice",
                run_at=now + (i - 3) * 9 * minute,
                group_id="billing",
                kwargs={"invoice": 2288 + i, "amount_cents": 1990 + 250 * i, "currency": "EUR"},
                max_attempts=3,
                **(
                    {
                        "failed_at": now - (40 + i) * minute,
                        "attempts": 3,
                        "last_error": "ConnectionError: payment gateway timed out after 30 s\n"
                        '  File "billing/gateway.py", line 88, in charge',
                        "last_run_at": now - (40 + i) * minute,
                    }
                    if failed
                    else {}
                ),
            )
        )
    for i in range(6):
        tasks.append(
            Task(
                task_id=f"thumbnail-{i:04}",
                callback="media.thumbnail",
                run_at=now - (5 - i) * minute,
                group_id="media",
                kwargs={"image": f"uploads/{i:04}.jpg", "sizes": [64, 256]},
            )
        )
    return tasks


async def showcase(store: DataStore, now: datetime) -> None:
    await store.add_tasks(showcase_tasks(now))
    for n, (worker, callbacks) in enumerate(
        [("web-1.worker-7f3a", ("media.thumbnail",)), ("web-2.worker-91c0", ())]
    ):
        claims = await store.acquire_tasks(
            worker_id=worker,
            now=now,
            lease_until=now + timedelta(seconds=30),
            limit=2,
            callbacks=callbacks or ["media.thumbnail"],
        )
        await store.register_worker(
            WorkerInfo(
                worker_id=worker,
                host=f"web-{n + 1}",
                pid=31337 + n,
                started_at=now - timedelta(hours=3 + n),
                heartbeat_at=now - timedelta(seconds=4 * n + 2),
                expires_at=now + timedelta(seconds=28),
                running=len(claims),
                held=len(claims),
                callbacks=callbacks,
                kind="event",
                version="1.0.0",
            )
        )
