"""RedisDataStore: TaskShed 0.10's Redis layout, changed only through atomic Lua scripts."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
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
from taskshed.listing import TaskCursor, TaskPage, TaskQuery
from taskshed.models import Task, TaskExecutionTime
from taskshed.notifiers.base import Notifier
from taskshed.serializers.base import Serializer
from taskshed.serializers.json import JSONSerializer
from taskshed.timeutils import (
    from_epoch_micros,
    from_epoch_seconds,
    to_epoch_micros,
    to_utc,
)
from taskshed.validation import check_execution_times, check_identifier, check_ids
from taskshed.worker_info import WorkerInfo
from taskshed_redis.config import RedisConfig
from taskshed_redis.keys import DEFAULT_PREFIX, KeySpace
from taskshed_redis.records import (
    epoch_text,
    optional_epoch,
    pairs_to_dict,
    task_fields,
    task_from_hash,
    text,
)
from taskshed_redis.retries import run_script
from taskshed_redis.scripts import Scripts
from taskshed_redis.server_checks import check_eviction

#: A task's field/value pairs for the add script (UTF-8 kept as is: cjson passes it through).
_PAIRS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

log = logging.getLogger(__name__)

#: Keys (or group members) handed to one script call by the batched removers and pausers.
_SWEEP_BATCH = 500
#: Index entries one list/count script call reads at most before it hands back.
_LIST_BUDGET = 2000
#: After an adoption pass that left the indexes disagreeing, how long to wait before another.
_ADOPT_RETRY = 60.0


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
        allow_eviction: bool = False,
    ) -> None:
        self.config = config or RedisConfig()
        #: Start even when the server may evict keys (``maxmemory`` with an ``allkeys-*`` policy).
        self.allow_eviction = allow_eviction
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
        self._owned_injected = False
        self._adopting: asyncio.Lock | None = None
        self._adopt_after = 0.0

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
                await check_eviction(client, allow=self.allow_eviction, where=repr(self))
        except (DataStoreError, ConfigurationError):
            if client is not self._injected or self._owned_injected:
                await client.aclose()
            raise
        self._scripts = Scripts(client, (self.keys.queue, self.keys.claims), self.keys.base)
        self._client = client

    async def shutdown(self) -> None:
        client, self._client, self._scripts = self._client, None, None
        if client is not None and (client is not self._injected or self._owned_injected):
            try:
                await client.aclose()
            except (RedisError, OSError) as exc:  # closing a dead connection is no failure
                log.debug("closing the Redis client failed: %s", exc)

    def sibling(self) -> RedisDataStore | None:
        """A new store on the same server, database and prefix, with a client of its own.

        With an injected plain ``redis.asyncio.Redis`` the sibling gets a new
        connection pool built from that client's connection settings; for a
        Cluster or Sentinel client there is none (``None``).
        """
        if self._injected is None:
            return RedisDataStore(
                self.config,
                prefix=self.keys.prefix,
                serializer=self.serializer,
                hash_tag=self.keys.hash_tag,
                allow_eviction=self.allow_eviction,
            )
        pool = getattr(self._injected, "connection_pool", None)
        # A Sentinel pool (or any other) finds its server its own way: no sibling then.
        plain_pools = (aioredis.ConnectionPool, aioredis.BlockingConnectionPool)
        if type(self._injected) is not aioredis.Redis or type(pool) not in plain_pools:
            return None
        assert pool is not None
        twin_pool = type(pool)(connection_class=pool.connection_class, **pool.connection_kwargs)
        twin = RedisDataStore(
            client=aioredis.Redis(connection_pool=twin_pool),
            prefix=self.keys.prefix,
            serializer=self.serializer,
            hash_tag=self.keys.hash_tag,
            allow_eviction=self.allow_eviction,
        )
        twin._owned_injected = True
        return twin

    async def current_time(self) -> datetime:
        """The Redis server's clock (``TIME``)."""
        async with _translated("TIME"):
            seconds, micros = await self.client.time()
        return from_epoch_micros(int(seconds) * 1_000_000 + int(micros))

    def create_notifier(self) -> Notifier | None:
        """Redis pub/sub on this store's server, on a channel of its database and prefix."""
        from taskshed_redis.notify import RedisNotifier

        return RedisNotifier.for_store(self)

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
            return await run_script(self._scripts, name, args)

    def _decode(self, task_id: str, fields: Any, holder: Any = None) -> Task | None:
        """The task in a reply's hash fields, or ``None`` (logged) if it is malformed."""
        try:
            return task_from_hash(task_id, pairs_to_dict(fields), self.serializer, holder)
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
        for task_id, fields, holder in rows:
            task = self._decode(text(task_id), fields, holder)
            if task is not None:
                tasks.append(task)
        return tasks

    # ------------------------------------------------------------------ writing

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        prepared = self.prepare_tasks(tasks)
        if not prepared:
            return
        # One argument per task, its field/value pairs as a JSON array of strings: the
        # client packs 500 arguments for 500 tasks instead of some 10,000, and the
        # script decodes each with Redis's built-in cjson (both sides in C).
        args = ["1" if replace_existing else "0"]
        args.extend(_PAIRS_JSON(task_fields(task, payload)) for task, payload in prepared)
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

    async def update_tasks_paused_status(
        self, task_ids: Iterable[str], paused: bool, *, strict: bool = False
    ) -> set[str]:
        ids = check_ids(task_ids)
        if not ids:
            return set()
        flag = "1" if paused else "0"
        now = await self.current_time()
        reply = await self._run("pause_tasks", flag, epoch_text(now), "1" if strict else "0", *ids)
        if int(reply[0]) == 0:
            raise TaskNotFoundError(f"task with ID {text(reply[1])} not found.")
        return {text(task_id) for task_id in reply[1:]}

    async def update_group_paused_status(self, group_id: str, paused: bool) -> int:
        check_identifier(group_id, "group_id")
        flag = "1" if paused else "0"
        now = epoch_text(await self.current_time())
        members: set[str] = set()
        # In batches, each one script: a group of any size never holds the server up.
        async for batch in self._group_batches(group_id):
            found = await self._run("pause_group", group_id, flag, now, *batch)
            members.update(text(task_id) for task_id in found)
        return len(members)

    async def remove_tasks(self, task_ids: Iterable[str]) -> set[str]:
        ids = check_ids(task_ids)
        if not ids:
            return set()
        # One script, whatever the number of ids: the removal is all or nothing.
        return {text(task_id) for task_id in await self._run("remove_tasks", *ids)}

    async def remove_all_tasks(self) -> None:
        # The fixed indexes go first (UNLINK frees them off the server's main
        # thread); then the task hashes, group sets and callback indexes are
        # found by SCAN and removed in bounded batches, each re-checked inside
        # a script, so a task added meanwhile keeps its keys and no single
        # call holds the server for long, however many tasks there are.
        async with _translated("remove_all_tasks"):
            await self.client.unlink(*self.keys.fixed())
        big: list[str] = []
        for pattern in (
            self.keys.task_pattern(),
            self.keys.group_pattern(),
            self.keys.callback_pattern(),
        ):
            batch: list[str] = []
            async for key in self._scan(pattern):
                batch.append(key)
                if len(batch) >= _SWEEP_BATCH:
                    big += [text(k) for k in await self._run("sweep", *batch)]
                    batch = []
            if batch:
                big += [text(k) for k in await self._run("sweep", *batch)]
        for key in big:
            await self._prune(key)
        # The call ids of recent writes go too (they would expire within a minute).
        batch = []
        async for key in self._scan(self.keys.once_pattern()):
            batch.append(key)
            if len(batch) >= _SWEEP_BATCH:
                await self._unlink(batch)
                batch = []
        if batch:
            await self._unlink(batch)

    async def _unlink(self, keys: list[str]) -> None:
        async with _translated("unlink"):
            await self.client.unlink(*keys)

    async def _prune(self, key: str) -> None:
        """Go through a large group set or callback index in batches, dropping what doesn't belong."""
        client = self.client
        async with _translated("remove_all_tasks"):
            kind = text(await client.type(key))
            if kind == "set":
                members = (text(m) async for m in client.sscan_iter(key, count=500))
            elif kind == "zset":
                members = (text(m) async for m, _ in client.zscan_iter(key, count=500))
            else:
                return
            batch: list[str] = []
            async for member in members:
                batch.append(member)
                if len(batch) >= _SWEEP_BATCH:
                    await self._run("prune", key, *batch)
                    batch = []
            if batch:
                await self._run("prune", key, *batch)

    async def _scan(self, pattern: str) -> AsyncIterator[str]:
        async with _translated("scan"):
            async for key in self.client.scan_iter(match=pattern, count=1000):
                try:
                    yield text(key)
                except UnicodeDecodeError:
                    continue  # not a key we wrote: ours are UTF-8

    async def _group_batches(self, group_id: str) -> AsyncIterator[list[str]]:
        """The members of a group's set, in batches (SSCAN: the set may change meanwhile)."""
        batch: list[str] = []
        async with _translated("group scan"):
            async for member in self.client.sscan_iter(self.keys.group(group_id), count=500):
                batch.append(text(member))
                if len(batch) >= _SWEEP_BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch

    async def remove_group_tasks(self, group_id: str) -> int:
        check_identifier(group_id, "group_id")
        removed: set[str] = set()
        async for batch in self._group_batches(group_id):
            removed.update(text(t) for t in await self._run("remove_group", group_id, *batch))
        return len(removed)

    async def retry_tasks(self, task_ids: Iterable[str], run_at: datetime) -> set[str]:
        ids = check_ids(task_ids)
        if not ids:
            return set()
        when = epoch_text(to_utc(run_at))
        return {text(task_id) for task_id in await self._run("retry", when, *ids)}

    # ------------------------------------------------------------------ adoption

    async def _adopt(self) -> None:
        """Index the tasks another program (0.10, a hand edit) wrote or removed.

        Our scripts keep the schedule and the run index in step; when their
        sizes differ, some task is in one but not the other. Both are walked
        in batches and each id is put right by a script.
        """
        if self._adopting is None:
            self._adopting = asyncio.Lock()
        async with self._adopting:
            client = self.client
            async with _translated("adopt"):
                pipe = client.pipeline(transaction=False)
                pipe.zcard(self.keys.queue)
                pipe.zcard(self.keys.runs)
                scheduled, indexed = await pipe.execute()
            if scheduled == indexed:
                return
            if time.monotonic() < self._adopt_after:
                raise _StillAdopting
            log.info(
                "indexing tasks written by another program (schedule %d, run index %d)",
                scheduled,
                indexed,
            )
            for key in (self.keys.queue, self.keys.runs):
                batch: list[str] = []
                async with _translated("adopt"):
                    async for member, _score in client.zscan_iter(key, count=500):
                        batch.append(text(member))
                        if len(batch) >= _SWEEP_BATCH:
                            await self._run("adopt", *batch)
                            batch = []
                if batch:
                    await self._run("adopt", *batch)
            # A task removed the 0.10 way leaves its callback's entries behind.
            async for key in self._scan(self.keys.callback_pattern()):
                await self._prune(key)
            async with _translated("adopt"):
                pipe = client.pipeline(transaction=False)
                pipe.zcard(self.keys.queue)
                pipe.zcard(self.keys.runs)
                scheduled, indexed = await pipe.execute()
            if scheduled != indexed:
                # Something keeps writing the 0.10 way; don't walk everything on every call.
                self._adopt_after = time.monotonic() + _ADOPT_RETRY
                log.warning(
                    "the schedule (%d) and the run index (%d) still disagree after indexing; "
                    "is a TaskShed 0.10 process still writing to prefix %r?",
                    scheduled,
                    indexed,
                    self.keys.prefix,
                )
                raise _StillAdopting

    async def _run_indexed(self, name: str, *args: str) -> Any:
        """Run a script that answers -1 while the indexes miss foreign tasks; adopt them first.

        The script's first argument says whether to check. If adopting leaves
        the indexes disagreeing (another program keeps writing), the script
        runs on the indexes as they are: tasks not yet adopted wait for the
        next pass rather than stopping every filtered claim.
        """
        reply = await self._run(name, "1", *args)
        if reply != -1:
            return reply
        try:
            await self._adopt()
        except _StillAdopting:
            return await self._run(name, "0", *args)
        reply = await self._run(name, "1", *args)
        return await self._run(name, "0", *args) if reply == -1 else reply

    # ------------------------------------------------------------------ reading

    async def fetch_due_tasks(self, dt: datetime) -> list[Task]:
        dt = to_utc(dt)
        rows = await self._run("read_due", epoch_text(dt))
        due = [
            t
            for t in self._decode_rows(rows)
            if not t.paused and t.failed_at is None and t.run_at <= dt
        ]
        due.sort(key=lambda t: (t.run_at, t.task_id))
        return due

    async def fetch_next_wakeup(
        self, *, callbacks: Collection[str] | None = None
    ) -> datetime | None:
        if callbacks is not None:
            names = sorted(set(callbacks))
            if not names:
                return None
            head = await self._run_indexed("wakeup", *names)
            return _instant_of(head) if head else None
        async with _translated("fetch_next_wakeup"):
            first = await self.client.zrange(self.keys.queue, 0, 0, withscores=True)
        if not first:
            return None
        score = float(first[0][1])
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
        # Read in batches (SSCAN), so that a large group never holds the server
        # up in one script; members that left meanwhile are filtered out below.
        tasks: list[Task] = []
        seen: set[str] = set()
        async for batch in self._group_batches(group_id):
            fresh = [task_id for task_id in batch if task_id not in seen]
            seen.update(fresh)
            if fresh:
                tasks += self._decode_rows(await self._run("read_tasks", *fresh))
        # A set has no order; the contract's is earliest first, then by id.
        return sorted(
            (task for task in tasks if task.group_id == group_id),
            key=lambda task: (task.run_at, task.task_id),
        )

    def _plan(self, query: TaskQuery, now: datetime) -> list[str]:
        """The list script's arguments after mode/now/want/budget: source, filters, range."""
        if query.claimed_by is not None or query.state == "claimed":
            source, name = "claims", ""
        elif query.state == "failed":
            source, name = "failed", ""
        elif query.state == "paused":
            source, name = "paused", ""
        elif query.callback is not None:
            source, name = "callback", query.callback
        elif query.group_id is not None:
            source, name = "group", query.group_id
        else:
            source, name = "runs", ""
        low, high = "-inf", "+inf"
        if query.due_after is not None:
            low = epoch_text(query.due_after)
        if query.state == "scheduled":
            # run_at > now (and >= due_after)
            if query.due_after is None or query.due_after <= now:
                low = "(" + epoch_text(now)
        if query.due_before is not None:
            high = "(" + epoch_text(query.due_before)
        if query.state == "due" and (query.due_before is None or query.due_before > now):
            high = epoch_text(now)
        return [
            source,
            name,
            query.group_id or "",
            query.callback or "",
            query.state or "",
            query.claimed_by or "",
            low,
            high,
        ]

    async def _walk(
        self, mode: str, query: TaskQuery, want: int, cursor: TaskCursor | None
    ) -> tuple[int, list[Any]]:
        """Run the list script until ``want`` matches (0: all) or the source ends."""
        now = query.now or await self.current_time()
        plan = self._plan(query, now)
        if plan[0] != "group":
            await self._ensure_indexed()
        after = ("", "") if cursor is None else (epoch_text(cursor.run_at), cursor.task_id)
        count, rows = 0, []
        while True:
            left = 0 if want == 0 else want - count
            reply = await self._run(
                "list", mode, epoch_text(now), str(left), str(_LIST_BUDGET), *plan, *after
            )
            finished, last_score, last_id, found = reply[:4]
            count += int(found)
            rows.extend(reply[4:])
            if int(finished) == 1 or (want and count >= want):
                return count, rows
            after = (text(last_score), text(last_id))

    async def _ensure_indexed(self) -> None:
        try:
            async with _translated("list"):
                pipe = self.client.pipeline(transaction=False)
                pipe.zcard(self.keys.queue)
                pipe.zcard(self.keys.runs)
                scheduled, indexed = await pipe.execute()
            if scheduled != indexed:
                await self._adopt()
        except _StillAdopting:
            pass

    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        _, rows = await self._walk("list", query, query.limit + 1, query.after)
        tasks = self._decode_rows(rows[: query.limit])
        cursor = None
        if len(rows) > query.limit:
            # From the last record's own fields, decoded or not, so that a
            # malformed record at the end of a page doesn't end the listing.
            cursor = _cursor_of(rows[query.limit - 1])
            if cursor is None and tasks:
                cursor = TaskCursor.after(tasks[-1])
        return TaskPage(tasks, cursor)

    async def count_tasks(self, query: TaskQuery, *, limit: int | None = None) -> int:
        if limit is not None and limit <= 0:
            return 0
        index = self._exact_index(query)
        if index is not None:
            # The index holds exactly the matching tasks: count its range at once.
            now = query.now or await self.current_time()
            _, _, _, _, _, _, low, high = self._plan(query, now)
            await self._ensure_indexed()
            async with _translated("count_tasks"):
                count = int(await self.client.zcount(index, low, high))
        else:
            count, _ = await self._walk("count", query, limit or 0, None)
        return count if limit is None else min(count, limit)

    def _exact_index(self, query: TaskQuery) -> str | None:
        """The index whose entries are exactly the tasks ``query`` matches (but for run_at), if any."""
        if query.group_id is not None or query.claimed_by is not None:
            return None
        if query.state in ("failed", "paused") and query.callback is None:
            return self.keys.failed if query.state == "failed" else self.keys.paused
        if query.state is not None:
            return None
        if query.callback is not None:
            return self.keys.callback_runs(query.callback)
        return self.keys.runs

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
        names = ["*"] if callbacks is None else sorted(set(callbacks))
        if not names:
            return []
        now, lease_until = to_utc(now), to_utc(lease_until)
        aside_until = now + SET_ASIDE_FOR
        rows = await self._run_indexed(
            "acquire",
            epoch_text(now),
            epoch_text(lease_until),
            str(int(limit)),
            # Random, not the worker id: a field value over 64 bytes would turn
            # the hash from Redis's compact listpack into a hashtable for good
            # (about 2.6 times the memory of a typical task).
            uuid.uuid4().hex,
            epoch_text(aside_until),
            worker_id,
            *names,
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
            task = self._decode(task_id, row[2], worker_id)
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
        # Chosen by claimable time (a task whose lease ran out competes at its
        # lease end); handed out in run_at order.
        claims.sort(key=lambda claim: (claim.task.run_at, claim.task_id))
        return claims

    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        if not completions:
            return set()
        rows: list[list[str]] = []
        for item in completions:
            if item.failed_at is not None:
                outcome = "failed"
            elif item.next_run_at is None:
                outcome = "remove"
            else:
                outcome = "next"
            rows.append(
                [
                    item.task_id,
                    item.token,
                    outcome,
                    optional_epoch(item.next_run_at),
                    str(item.attempts) if item.attempts else "",
                    item.last_error or "",
                    optional_epoch(item.last_run_at),
                    optional_epoch(item.failed_at),
                    optional_epoch(item.occurrence_at),
                ]
            )
        # The whole batch as one JSON argument (decoded by the script with cjson): the
        # client packs one argument instead of nine per completion.
        return {text(task_id) for task_id in await self._run("complete", _PAIRS_JSON(rows))}

    async def extend_leases(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        if not claims:
            return set()
        args = [epoch_text(lease_until)]
        for claim in claims:
            args += [claim.task_id, claim.token]
        return {text(task_id) for task_id in await self._run("extend", *args)}

    async def confirm_claims(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        if not claims:
            return set()
        args = [epoch_text(lease_until)]
        for claim in claims:
            args += [claim.task_id, claim.token]
        return {text(task_id) for task_id in await self._run("confirm", *args)}

    async def release_tasks(self, claims: Sequence[Claim]) -> set[str]:
        if not claims:
            return set()
        args: list[str] = []
        for claim in claims:
            args += [claim.task_id, claim.token]
        return {text(task_id) for task_id in await self._run("release", *args)}

    # ------------------------------------------------------------------ worker registry

    async def register_worker(self, info: WorkerInfo) -> None:
        record = json.dumps(
            {
                "worker_id": info.worker_id,
                "host": info.host,
                "pid": info.pid,
                "started_at": to_epoch_micros(info.started_at),
                "heartbeat_at": to_epoch_micros(info.heartbeat_at),
                "expires_at": to_epoch_micros(info.expires_at),
                "running": info.running,
                "held": info.held,
                "callbacks": list(info.callbacks),
                "kind": info.kind,
                "version": info.version,
            },
            separators=(",", ":"),
        )
        await self._run("workers", "register", info.worker_id, epoch_text(info.expires_at), record)

    async def remove_worker(self, worker_id: str) -> None:
        await self._run("workers", "remove", worker_id)

    async def fetch_workers(self, now: datetime) -> list[WorkerInfo]:
        records = await self._run("workers", "fetch", epoch_text(to_utc(now)))
        workers = []
        for record in records:
            try:
                data = json.loads(text(record))
                workers.append(
                    WorkerInfo(
                        worker_id=str(data["worker_id"]),
                        host=str(data["host"]),
                        pid=int(data["pid"]),
                        started_at=from_epoch_micros(int(data["started_at"])),
                        heartbeat_at=from_epoch_micros(int(data["heartbeat_at"])),
                        expires_at=from_epoch_micros(int(data["expires_at"])),
                        running=int(data.get("running", 0)),
                        held=int(data.get("held", 0)),
                        callbacks=tuple(str(name) for name in data.get("callbacks", ())),
                        kind=str(data.get("kind", "")),
                        version=str(data.get("version", "")),
                    )
                )
            except (ValueError, TypeError, KeyError, UnicodeDecodeError, OverflowError) as exc:
                log.warning("skipping a malformed worker registration: %s", exc)
        return sorted(workers, key=lambda info: info.worker_id)


class _StillAdopting(Exception):
    """The indexes still disagree with the schedule (another program keeps writing)."""


def _instant_of(score: Any) -> datetime:
    return from_epoch_seconds(float(text(score)))


def _cursor_of(row: Any) -> TaskCursor | None:
    fields = pairs_to_dict(row[1])
    try:
        return TaskCursor(_instant_of(fields["run_at"]), text(row[0]))
    except (KeyError, ValueError, TypeError, OverflowError):
        return None


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
