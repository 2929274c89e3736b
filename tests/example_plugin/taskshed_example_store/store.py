"""ExampleDataStore: every task is a small dict of plain values, kept in memory or in a JSON file.

``example://`` keeps the dicts in this process. ``example:///path/tasks.json``
keeps them in a file that several processes may share: each operation takes an
exclusive ``flock`` on ``tasks.json.lock``, reads the file, changes it and
writes it back whole. Simple rather than fast, and enough to pass the whole
conformance suite, including its multi-process tests.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from taskshed.claims import SET_ASIDE_FOR, Claim, Completion
from taskshed.datastores.base import DataStore
from taskshed.errors import MalformedRecordError, TaskNotFoundError
from taskshed.listing import TaskCursor, TaskPage, TaskQuery
from taskshed.models import Task, TaskExecutionTime
from taskshed.records import task_from_record
from taskshed.serializers.base import Serializer
from taskshed.serializers.json import JSONSerializer
from taskshed.timeutils import from_epoch_micros, to_epoch_micros, to_utc, utcnow
from taskshed.validation import check_execution_times, check_identifier, check_ids
from taskshed.worker_info import WorkerInfo

log = logging.getLogger(__name__)

Record = dict[str, Any]
_MICRO = timedelta(microseconds=1)


class ExampleDataStore(DataStore):
    """Tasks as plain dicts keyed by id; times as integer microseconds since the epoch."""

    def __init__(self, *, path: str | None = None, serializer: Serializer | None = None) -> None:
        self.serializer = serializer or JSONSerializer()
        self._path = Path(path) if path else None
        self._records: dict[str, Record] = {}
        self._workers: dict[str, WorkerInfo] = {}
        # One lock guards every read and write, from any thread (a sibling on a
        # worker's heartbeat thread shares it). The critical sections never
        # await, so this lock and the blocking flock below are held only for a moment.
        self._lock = threading.Lock()

    def sibling(self) -> ExampleDataStore:
        twin = ExampleDataStore(
            path=str(self._path) if self._path else None, serializer=self.serializer
        )
        if self._path is None:  # the same dicts, under the same lock
            twin._records, twin._workers, twin._lock = self._records, self._workers, self._lock
        return twin

    def __repr__(self) -> str:
        return f"ExampleDataStore(path={self._path})"

    async def start(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    # ------------------------------------------------------------------ storage

    @asynccontextmanager
    async def _records_for(self, *, write: bool) -> AsyncIterator[dict[str, Record]]:
        """The records, locked; with ``write`` they are saved if the block ends without error."""
        with self._lock:
            if self._path is None:
                yield self._records
                return
            lock_fd = os.open(f"{self._path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                records = json.loads(self._path.read_text()) if self._path.exists() else {}
                yield records
                if write:
                    scratch = self._path.with_name(self._path.name + ".tmp")
                    scratch.write_text(json.dumps(records))
                    os.replace(scratch, self._path)
            finally:
                os.close(lock_fd)  # closing releases the flock

    def _to_record(self, task: Task, payload: str) -> Record:
        return {
            "task_id": task.task_id,
            "callback": task.callback,
            "run_at": to_epoch_micros(task.run_at),
            "kwargs": payload,
            "run_type": task.run_type,
            "interval": _micros(task.interval),
            "group_id": task.group_id,
            "paused": task.paused,
            "coalesce": task.coalesce,
            "paused_at": _instant(task.paused_at),
            "cron": task.cron,
            "timezone": task.timezone,
            "end_at": _instant(task.end_at),
            "jitter": _micros(task.jitter),
            "max_attempts": task.max_attempts,
            "retry_backoff": _micros(task.retry_backoff),
            "timeout": _micros(task.timeout),
            "attempts": task.attempts,
            "last_error": task.last_error,
            "last_run_at": _instant(task.last_run_at),
            "failed_at": _instant(task.failed_at),
            "occurrence_at": _instant(task.occurrence_at),
            "token": None,
            "lease_until": None,
        }

    def _to_task(self, record: Record) -> Task:
        try:
            interval = record["interval"]
            paused_at = record["paused_at"]
            return task_from_record(
                serializer=self.serializer,
                task_id=record["task_id"],
                callback=record["callback"],
                run_at=from_epoch_micros(record["run_at"]),
                kwargs=record["kwargs"],
                run_type=record["run_type"],
                interval_seconds=interval / 1_000_000 if interval is not None else None,
                group_id=record["group_id"],
                paused=record["paused"],
                coalesce=record["coalesce"],
                paused_at=from_epoch_micros(paused_at) if paused_at is not None else None,
                cron=record.get("cron"),
                timezone=record.get("timezone"),
                end_at=_from(record.get("end_at")),
                jitter_seconds=_seconds(record.get("jitter")),
                max_attempts=record.get("max_attempts"),
                retry_backoff_seconds=_seconds(record.get("retry_backoff")),
                timeout_seconds=_seconds(record.get("timeout")),
                attempts=record.get("attempts", 0),
                last_error=record.get("last_error"),
                last_run_at=_from(record.get("last_run_at")),
                failed_at=_from(record.get("failed_at")),
                occurrence_at=_from(record.get("occurrence_at")),
                claimed_by=_holder(record),
                lease_until=_from(record["lease_until"]) if _holder(record) else None,
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, MalformedRecordError):
                raise
            raise MalformedRecordError(f"record {record!r}: {exc}") from exc

    def _readable(self, records: Iterable[Record]) -> list[Task]:
        """Decode records, logging and skipping those that can't be read."""
        tasks = []
        for record in records:
            try:
                tasks.append(self._to_task(record))
            except MalformedRecordError as exc:
                log.warning("skipping unreadable task record: %s", exc)
        return tasks

    @staticmethod
    def _require(records: dict[str, Record], task_ids: Iterable[str]) -> None:
        for task_id in task_ids:
            if task_id not in records:
                raise TaskNotFoundError(f"task with ID {task_id} not found.")

    @staticmethod
    def _set_paused(record: Record, paused: bool, now: int) -> None:
        if record.get("failed_at") is not None:
            return  # failed tasks are left alone
        if paused and not record["paused"]:
            record["paused"] = True
            record["paused_at"] = now
        elif not paused:
            record["paused"] = False
            record["paused_at"] = None

    @staticmethod
    def _held(records: dict[str, Record], task_id: str, token: str) -> Record | None:
        record = records.get(task_id)
        if record is None or record["token"] != token or record["lease_until"] is None:
            return None
        return record

    # ------------------------------------------------------------------ writing

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        prepared = self.prepare_tasks(tasks)  # validates and encodes everything first
        async with self._records_for(write=True) as records:
            for task, payload in prepared:
                if replace_existing or task.task_id not in records:
                    records[task.task_id] = self._to_record(task, payload)

    async def update_execution_times(self, tasks: Iterable[TaskExecutionTime]) -> None:
        times = check_execution_times(tasks)
        async with self._records_for(write=True) as records:
            self._require(records, (item.task_id for item in times))
            for item in times:
                record = records[item.task_id]
                record["run_at"] = to_epoch_micros(item.run_at)
                record["occurrence_at"] = None
                record["token"] = record["lease_until"] = None

    async def update_tasks_paused_status(
        self, task_ids: Iterable[str], paused: bool, *, strict: bool = False
    ) -> set[str]:
        ids = check_ids(task_ids)
        now = to_epoch_micros(utcnow())
        async with self._records_for(write=True) as records:
            if strict:
                self._require(records, ids)
            found = [task_id for task_id in ids if task_id in records]
            for task_id in found:
                self._set_paused(records[task_id], paused, now)
            return set(found)

    async def update_group_paused_status(self, group_id: str, paused: bool) -> int:
        check_identifier(group_id, "group_id")
        now = to_epoch_micros(utcnow())
        count = 0
        async with self._records_for(write=True) as records:
            for record in records.values():
                if record["group_id"] == group_id:
                    self._set_paused(record, paused, now)
                    count += 1
        return count

    async def remove_tasks(self, task_ids: Iterable[str]) -> set[str]:
        ids = check_ids(task_ids)
        async with self._records_for(write=True) as records:
            return {task_id for task_id in ids if records.pop(task_id, None) is not None}

    async def retry_tasks(self, task_ids: Iterable[str], run_at: datetime) -> set[str]:
        ids = check_ids(task_ids)
        retried: set[str] = set()
        async with self._records_for(write=True) as records:
            for task_id in ids:
                record = records.get(task_id)
                if record is None or record.get("failed_at") is None:
                    continue
                record.update(
                    failed_at=None,
                    attempts=0,
                    run_at=to_epoch_micros(run_at),
                    occurrence_at=None,
                    token=None,
                    lease_until=None,
                )
                retried.add(task_id)
        return retried

    async def remove_all_tasks(self) -> None:
        async with self._records_for(write=True) as records:
            records.clear()

    async def remove_group_tasks(self, group_id: str) -> int:
        check_identifier(group_id, "group_id")
        async with self._records_for(write=True) as records:
            doomed = [k for k, r in records.items() if r["group_id"] == group_id]
            for task_id in doomed:
                del records[task_id]
        return len(doomed)

    # ------------------------------------------------------------------ reading

    async def fetch_due_tasks(self, dt: datetime) -> list[Task]:
        limit = to_epoch_micros(dt)
        async with self._records_for(write=False) as records:
            due = [r for r in records.values() if _runnable(r) and r["run_at"] <= limit]
            due.sort(key=lambda r: (r["run_at"], r["task_id"]))
            return self._readable(due)

    async def fetch_next_wakeup(
        self, *, callbacks: Collection[str] | None = None
    ) -> datetime | None:
        async with self._records_for(write=False) as records:
            times = [
                max(r["run_at"], r["lease_until"]) if _claimed(r) else r["run_at"]
                for r in records.values()
                if _runnable(r) and (callbacks is None or r["callback"] in callbacks)
            ]
        return from_epoch_micros(min(times)) if times else None

    async def fetch_tasks(self, task_ids: Iterable[str]) -> list[Task]:
        ids = check_ids(task_ids)
        async with self._records_for(write=False) as records:
            return self._readable(records[t] for t in ids if t in records)

    async def fetch_group_tasks(self, group_id: str) -> list[Task]:
        check_identifier(group_id, "group_id")
        async with self._records_for(write=False) as records:
            members = [r for r in records.values() if r["group_id"] == group_id]
            members.sort(key=lambda r: (r["run_at"], r["task_id"]))
            return self._readable(members)

    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        now = query.now or utcnow()
        async with self._records_for(write=False) as records:
            tasks = [
                t
                for t in self._readable(records.values())
                if query.matches(t, now) and query.is_after_cursor(t)
            ]
        tasks.sort(key=lambda t: (t.run_at, t.task_id))
        page = tasks[: query.limit]
        more = len(tasks) > query.limit
        return TaskPage(page, TaskCursor.after(page[-1]) if more and page else None)

    async def count_tasks(self, query: TaskQuery, *, limit: int | None = None) -> int:
        now = query.now or utcnow()
        async with self._records_for(write=False) as records:
            count = sum(1 for t in self._readable(records.values()) if query.matches(t, now))
        return count if limit is None else min(count, limit)

    # ------------------------------------------------------------------ claims

    async def acquire_tasks(
        self,
        *,
        worker_id: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        callbacks: Collection[str] | None = None,
    ) -> list[Claim]:
        if limit <= 0:
            return []
        now_us = to_epoch_micros(now)
        lease_until = to_utc(lease_until)
        claims: list[Claim] = []
        async with self._records_for(write=True) as records:
            free = [
                r
                for r in records.values()
                if _runnable(r)
                and r["run_at"] <= now_us
                and (callbacks is None or r["callback"] in callbacks)
                and (not _claimed(r) or r["lease_until"] <= now_us)
            ]
            free.sort(key=lambda r: (r["run_at"], r["task_id"]))
            for record in free:
                if len(claims) == limit:
                    break
                try:
                    task = self._to_task(record)
                except MalformedRecordError as exc:
                    log.warning("setting aside unreadable task record: %s", exc)
                    record["token"] = "set-aside"
                    record["lease_until"] = to_epoch_micros(now + SET_ASIDE_FOR)
                    continue
                record["token"] = f"{worker_id}/{uuid.uuid4().hex}"
                record["lease_until"] = to_epoch_micros(lease_until)
                task.claimed_by, task.lease_until = worker_id, lease_until
                claims.append(Claim(task, record["token"], lease_until))
        return claims

    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        done: set[str] = set()
        async with self._records_for(write=True) as records:
            for item in completions:
                record = self._held(records, item.task_id, item.token)
                if record is None:
                    continue  # the lease passed to someone else, or the task changed
                if item.removes:
                    del records[item.task_id]
                else:
                    record.update(
                        attempts=item.attempts,
                        last_error=item.last_error,
                        last_run_at=_instant(item.last_run_at),
                        token=None,
                        lease_until=None,
                    )
                    if item.failed_at is not None:
                        record["failed_at"] = _instant(item.failed_at)
                    else:
                        assert item.next_run_at is not None
                        record["run_at"] = to_epoch_micros(item.next_run_at)
                        record["occurrence_at"] = _instant(item.occurrence_at)
                done.add(item.task_id)
        return done

    async def extend_leases(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        kept: set[str] = set()
        async with self._records_for(write=True) as records:
            for claim in claims:
                record = self._held(records, claim.task_id, claim.token)
                if record is not None:
                    record["lease_until"] = to_epoch_micros(lease_until)
                    kept.add(claim.task_id)
        return kept

    async def release_tasks(self, claims: Sequence[Claim]) -> set[str]:
        released: set[str] = set()
        async with self._records_for(write=True) as records:
            for claim in claims:
                record = self._held(records, claim.task_id, claim.token)
                if record is not None:
                    record["token"] = record["lease_until"] = None
                    released.add(claim.task_id)
        return released

    # ------------------------------------------------------------------ worker registry

    async def register_worker(self, info: WorkerInfo) -> None:
        with self._lock:
            self._workers[info.worker_id] = info

    async def remove_worker(self, worker_id: str) -> None:
        with self._lock:
            self._workers.pop(worker_id, None)

    async def fetch_workers(self, now: datetime) -> list[WorkerInfo]:
        # Kept in this process only: a file-backed store's workers are not shared (a
        # real plugin stores them with its tasks).
        now = to_utc(now)
        with self._lock:
            return sorted(
                (w for w in self._workers.values() if w.expires_at > now),
                key=lambda w: w.worker_id,
            )


def _runnable(record: Record) -> bool:
    return not record["paused"] and record.get("failed_at") is None


def _claimed(record: Record) -> bool:
    """A claim counts only with both its token and its lease."""
    return record["token"] is not None and record["lease_until"] is not None


def _holder(record: Record) -> str | None:
    token = record["token"]
    if not _claimed(record) or token == "set-aside":
        return None
    return str(token).rpartition("/")[0] or None


def _micros(duration: timedelta | None) -> int | None:
    return duration // _MICRO if duration is not None else None


def _seconds(micros: int | None) -> float | None:
    return micros / 1_000_000 if micros is not None else None


def _instant(dt: datetime | None) -> int | None:
    return to_epoch_micros(dt) if dt is not None else None


def _from(micros: int | None) -> datetime | None:
    return from_epoch_micros(micros) if micros is not None else None
