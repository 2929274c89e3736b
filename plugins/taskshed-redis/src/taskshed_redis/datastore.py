"""RedisDataStore: TaskShed 0.10's Redis layout, changed only through atomic Lua scripts."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from taskshed.claims import SET_ASIDE_FOR, Claim, Completion
from taskshed.datastores.base import DataStore
from taskshed.errors import (
    ConfigurationError,
    DataStoreError,
    DataStoreNotStartedError,
    MalformedRecordError,
    TaskNotFoundError,
)
from taskshed.models import Task, TaskExecutionTime
from taskshed.serializers.base import Serializer
from taskshed.serializers.json import JSONSerializer
from taskshed.timeutils import from_epoch_seconds, to_utc, utcnow
from taskshed.validation import check_execution_times, check_identifier, check_ids
from taskshed_redis.config import RedisConfig
from taskshed_redis.keys import DEFAULT_PREFIX, KeySpace
from taskshed_redis.records import (
    epoch_text,
    pairs_to_dict,
    queue_score,
    task_fields,
    task_from_hash,
    text,
)
from taskshed_redis.scripts import Scripts

log = logging.getLogger(__name__)

#: Keys handed to one sweep script call while removing leftovers.
_SWEEP_BATCH = 500


class RedisDataStore(DataStore):
    """Tasks in Redis, in TaskShed 0.10's layout, shared safely by any number of workers.

    :param config: where to connect (default: ``localhost:6379``, db 0).
    :param client: an existing ``redis.asyncio.Redis`` (or ``RedisCluster``,
        or a Sentinel ``master_for`` client) to use instead; the store never
        closes it. ``config`` is ignored then.
    :param prefix: the key prefix, ``scheduler`` as in 0.10.
    :param serializer: turns kwargs into text (default: compact JSON, as 0.10).
    :param hash_tag: wrap the prefix in ``{}`` so that all keys of the store
        share one Redis Cluster slot. Off by default because 0.10's keys have
        no tag; on by default for a ``RedisCluster`` client.
    """

    def __init__(
        self,
        config: RedisConfig | None = None,
        *,
        client: Any | None = None,
        prefix: str = DEFAULT_PREFIX,
        serializer: Serializer | None = None,
        hash_tag: bool | None = None,
    ) -> None:
        self.config = config or RedisConfig()
        self.serializer = serializer or JSONSerializer()
        cluster_client = client is not None and _is_cluster(client)
        if hash_tag is None:
            hash_tag = cluster_client
        elif cluster_client and not hash_tag:
            raise ConfigurationError(
                "a RedisCluster client needs hash_tag=True: the scripts touch several keys, "
                "which must share one slot"
            )
        self.keys = KeySpace(prefix, hash_tag)
        self._injected = client
        self._client: Any | None = None
        self._scripts: Scripts | None = None

    def __repr__(self) -> str:
        where = "injected client" if self._injected is not None else self.config.describe()
        return f"RedisDataStore({where}, prefix={self.keys.prefix!r})"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._client is not None:
            return
        client = self._injected
        if client is None:
            client = aioredis.Redis(**self.config.client_kwargs())
        try:
            # Fail at start-up, not at the first write, when the server can't be reached.
            async with _translated("connect"):
                await client.ping()
        except DataStoreError:
            if client is not self._injected:
                await client.aclose()
            raise
        self._scripts = Scripts(client, (self.keys.queue, self.keys.claims), self.keys.base)
        self._client = client

    async def shutdown(self) -> None:
        client, self._client, self._scripts = self._client, None, None
        if client is not None and client is not self._injected:
            try:
                await client.aclose()
            except (RedisError, OSError) as exc:  # closing a dead connection is no failure
                log.debug("closing the Redis client failed: %s", exc)

    # ------------------------------------------------------------------ plumbing

    @property
    def client(self) -> Any:
        """The live client (for tools and tests); raises before ``start()``."""
        if self._client is None:
            raise DataStoreNotStartedError("RedisDataStore is not started; await start() first")
        return self._client

    async def _run(self, name: str, *args: str) -> Any:
        if self._scripts is None:
            raise DataStoreNotStartedError("RedisDataStore is not started; await start() first")
        async with _translated(name):
            return await self._scripts.run(name, *args)

    def _decode(self, task_id: str, fields: Any) -> Task | None:
        """The task in a reply's hash fields, or ``None`` (logged) if it is malformed."""
        try:
            return task_from_hash(task_id, pairs_to_dict(fields), self.serializer)
        except MalformedRecordError as exc:
            # The reason names fields, never the kwargs' content.
            log.warning(
                "skipping task %r: its stored record is malformed: %s",
                task_id,
                _reason(exc, task_id),
            )
            return None

    def _decode_rows(self, rows: list[Any]) -> list[Task]:
        tasks = []
        for task_id, fields in rows:
            task = self._decode(text(task_id), fields)
            if task is not None:
                tasks.append(task)
        return tasks

    # ------------------------------------------------------------------ writing

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        prepared = self.prepare_tasks(tasks)
        if not prepared:
            return
        args = ["1" if replace_existing else "0"]
        for task, payload in prepared:
            args.extend(task_fields(task, payload))
            args.append(queue_score(task))
        await self._run("add", *args)

    async def update_execution_times(self, tasks: Iterable[TaskExecutionTime]) -> None:
        times = check_execution_times(tasks)
        if not times:
            return
        args: list[str] = []
        for item in times:
            args += [item.task_id, epoch_text(item.run_at)]
        missing = await self._run("update_times", *args)
        if missing is not None:
            raise TaskNotFoundError(f"task with ID {text(missing)} not found.")

    async def update_tasks_paused_status(self, task_ids: Iterable[str], paused: bool) -> None:
        ids = check_ids(task_ids)
        if not ids:
            return
        flag = "1" if paused else "0"
        missing = await self._run("pause_tasks", flag, epoch_text(utcnow()), *ids)
        if missing is not None:
            raise TaskNotFoundError(f"task with ID {text(missing)} not found.")

    async def update_group_paused_status(self, group_id: str, paused: bool) -> None:
        check_identifier(group_id, "group_id")
        await self._run("pause_group", group_id, "1" if paused else "0", epoch_text(utcnow()))

    async def remove_tasks(self, task_ids: Iterable[str]) -> None:
        ids = check_ids(task_ids)
        if ids:
            await self._run("remove_tasks", *ids)

    async def remove_all_tasks(self) -> None:
        await self._run("remove_all")
        # Hashes and sets that are in no index (0.10 wrote them with separate
        # commands, so a crash could leave some) are found by SCAN; the sweep
        # script re-checks each before it deletes anything.
        for pattern in (self.keys.task_pattern(), self.keys.group_pattern()):
            batch: list[str] = []
            async for key in self._scan(pattern):
                batch.append(key)
                if len(batch) >= _SWEEP_BATCH:
                    await self._run("sweep", *batch)
                    batch = []
            if batch:
                await self._run("sweep", *batch)

    async def _scan(self, pattern: str) -> AsyncIterator[str]:
        async with _translated("scan"):
            async for key in self.client.scan_iter(match=pattern, count=1000):
                try:
                    yield text(key)
                except UnicodeDecodeError:
                    continue  # not a key we wrote: ours are UTF-8

    async def remove_group_tasks(self, group_id: str) -> None:
        check_identifier(group_id, "group_id")
        await self._run("remove_group", group_id)

    # ------------------------------------------------------------------ reading

    async def fetch_due_tasks(self, dt: datetime) -> list[Task]:
        dt = to_utc(dt)
        rows = await self._run("read_due", epoch_text(dt))
        due = [t for t in self._decode_rows(rows) if not t.paused and t.run_at <= dt]
        due.sort(key=lambda t: t.run_at)
        return due

    async def fetch_next_wakeup(self) -> datetime | None:
        async with _translated("fetch_next_wakeup"):
            head = await self.client.zrange(self.keys.queue, 0, 0, withscores=True)
        if not head:
            return None
        score = float(head[0][1])
        if math.isinf(score):
            return None
        return from_epoch_seconds(score)

    async def fetch_tasks(self, task_ids: Iterable[str]) -> list[Task]:
        ids = check_ids(task_ids)
        if not ids:
            return []
        return self._decode_rows(await self._run("read_tasks", *ids))

    async def fetch_group_tasks(self, group_id: str) -> list[Task]:
        check_identifier(group_id, "group_id")
        tasks = self._decode_rows(await self._run("read_group", group_id))
        return [task for task in tasks if task.group_id == group_id]

    # ------------------------------------------------------------------ claims

    async def acquire_tasks(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Claim]:
        if limit <= 0:
            return []
        now, lease_until = to_utc(now), to_utc(lease_until)
        aside_until = now + SET_ASIDE_FOR
        rows = await self._run(
            "acquire",
            epoch_text(now),
            epoch_text(lease_until),
            str(int(limit)),
            # Random, not the worker id: a field value over 64 bytes would turn
            # the hash from Redis's compact listpack into a hashtable for good
            # (about 2.6 times the memory of a typical task).
            uuid.uuid4().hex,
            epoch_text(aside_until),
        )
        claims: list[Claim] = []
        set_aside: list[str] = []
        for row in rows:
            task_id = text(row[0])
            if len(row) == 1:
                log.warning(
                    "task %r is in the schedule but has no hash; set aside until %s",
                    task_id,
                    aside_until.isoformat(),
                )
                continue
            token = text(row[1])
            task = self._decode(task_id, row[2])
            if task is None:
                set_aside += [task_id, token]
            else:
                claims.append(Claim(task, token, lease_until))
        if set_aside:
            log.warning(
                "%d malformed task record(s) set aside until %s",
                len(set_aside) // 2,
                aside_until.isoformat(),
            )
            try:
                await self._run("set_aside", epoch_text(aside_until), *set_aside)
            except DataStoreError as exc:
                # The good claims are already ours: hand them out. The bad
                # records stay claimed until the lease ends and come round again.
                log.warning("could not set malformed records aside: %s", exc)
        # Chosen by schedule score (a task whose lease ran out scores its lease
        # end); handed out in run_at order.
        claims.sort(key=lambda claim: claim.task.run_at)
        return claims

    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        if not completions:
            return set()
        args: list[str] = []
        for item in completions:
            next_run = "" if item.next_run_at is None else epoch_text(item.next_run_at)
            args += [item.task_id, item.token, next_run]
        return {text(task_id) for task_id in await self._run("complete", *args)}

    async def extend_leases(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        if not claims:
            return set()
        args = [epoch_text(lease_until)]
        for claim in claims:
            args += [claim.task_id, claim.token]
        return {text(task_id) for task_id in await self._run("extend", *args)}

    async def release_tasks(self, claims: Sequence[Claim]) -> set[str]:
        if not claims:
            return set()
        args: list[str] = []
        for claim in claims:
            args += [claim.task_id, claim.token]
        return {text(task_id) for task_id in await self._run("release", *args)}


def _reason(exc: Exception, task_id: str) -> str:
    reason, head = str(exc), f"task {task_id!r}: "
    while reason.startswith(head):
        reason = reason[len(head) :]
    return reason


def _is_cluster(client: Any) -> bool:
    from redis.asyncio.cluster import RedisCluster

    return isinstance(client, RedisCluster)


@asynccontextmanager
async def _translated(operation: str) -> AsyncIterator[None]:
    """Turn driver errors into :class:`DataStoreError` (their text never holds the password)."""
    try:
        yield
    except RedisError as exc:
        raise DataStoreError(f"Redis {operation} failed: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        raise DataStoreError(f"Redis {operation} failed: {type(exc).__name__}: {exc}") from exc
