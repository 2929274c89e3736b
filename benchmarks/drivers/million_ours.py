"""A million stored tasks (ours only): add rate, claim and wake-up against 10,000 stored, memory, plans.

One run, one store:

1. ``small`` tasks not due (a day ahead) are stored; claiming 50 due tasks
   (add 50 + acquire them + complete them) and ``fetch_next_wakeup`` are timed
   ``samples`` times each, alternating;
2. the store is filled up to ``big`` tasks in batches of ``batch`` (the add
   rate, and the first and last batch's time);
3. the same claim and wake-up timings with ``big`` stored, then the memory
   each stored task takes, and what the server does for the hot statements:
   ``EXPLAIN`` of the SQL statements the claim and wake-up sent, or Redis's
   ``SLOWLOG`` entries and ``MEMORY USAGE`` of a task's keys.

Everything goes through the store's public methods; the statements to explain
are captured from the SQL store's engine as they are sent.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import REDIS_DB, REDIS_HOST, REDIS_PORT
from stores_ours import MYSQL_DB, REDIS_PREFIX, SQLITE_FILE, make_store
from taskshed_redis.keys import CALL_ID_KEY

from taskshed.claims import Completion
from taskshed.models import Task

_CALLBACK = "million"
_MAX_PLAN_LINES = 14


def _background(start: int, stop: int, base: datetime) -> list[Task]:
    return [
        Task(
            callback=_CALLBACK,
            run_at=base + timedelta(seconds=i),
            task_id=f"m{i:07d}",
            kwargs={"i": i},
        )
        for i in range(start, stop)
    ]


async def _claim_50(store: Any, round_: int, size: int) -> dict[str, float]:
    """Add ``size`` due tasks, acquire them all, complete them: the time of each step."""
    now = datetime.now(UTC)
    tasks = [
        Task(callback=_CALLBACK, run_at=now - timedelta(seconds=1), task_id=f"c{round_}-{i}")
        for i in range(size)
    ]
    t0 = time.perf_counter()
    await store.add_tasks(tasks)
    t1 = time.perf_counter()
    claims: list[Any] = []
    for _ in range(size):
        got = await store.acquire_tasks(
            worker_id="bench-million",
            now=now,
            lease_until=now + timedelta(seconds=60),
            limit=size - len(claims),
            callbacks={_CALLBACK},
        )
        claims.extend(got)
        if len(claims) >= size or not got:
            break
    t2 = time.perf_counter()
    done = await store.complete_tasks([Completion(c.task_id, c.token, None) for c in claims])
    t3 = time.perf_counter()
    if len(claims) != size or len(done) != size:
        raise RuntimeError(f"claimed {len(claims)} and completed {len(done)} of {size}")
    _claimed_twice[0] += len(claims) - len({c.task_id for c in claims})
    return {"add": t1 - t0, "acquire": t2 - t1, "complete": t3 - t2, "claim": t3 - t0}


#: Tasks handed out twice by acquire_tasks during the run (must stay 0).
_claimed_twice = [0]


async def _wakeup(store: Any) -> float:
    t0 = time.perf_counter()
    await store.fetch_next_wakeup(callbacks={_CALLBACK})
    return time.perf_counter() - t0


async def _timings(store: Any, samples: int, size: int, tag: str) -> dict[str, float]:
    """Medians (ms) of ``samples`` claims of ``size`` due tasks and of wake-up queries."""
    steps: dict[str, list[float]] = {"add": [], "acquire": [], "complete": [], "claim": []}
    wakeups: list[float] = []
    await _claim_50(store, -1, size)  # warm-up: connections, prepared statements, caches
    await _wakeup(store)
    for round_ in range(samples):
        for key, value in (await _claim_50(store, round_, size)).items():
            steps[key].append(value)
        wakeups.append(await _wakeup(store))
    result = {f"{key}_{tag}_ms": statistics.median(v) * 1e3 for key, v in steps.items()}
    result[f"wakeup_{tag}_ms"] = statistics.median(wakeups) * 1e3
    return result


# ---------------------------------------------------------------------- memory


def _rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


async def _redis_client() -> Any:
    import redis.asyncio as aioredis

    return aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)


async def _redis_used_memory() -> int:
    client = await _redis_client()
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def _sql_bytes(store_name: str, store: Any) -> dict[str, Any]:
    """Table + index bytes of our tasks table, as the server reports them."""
    engine = getattr(store, "engine", None)
    if engine is None:
        return {}
    from sqlalchemy import text

    async with engine.connect() as conn:
        if store_name == "mariadb":
            # InnoDB's sizes are estimates refreshed lazily; refresh them (the timings are done).
            for (name,) in (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = :db"
                    ),
                    {"db": MYSQL_DB},
                )
            ).all():
                await conn.exec_driver_sql(f"ANALYZE TABLE `{name}`")
            rows = (
                await conn.execute(
                    text(
                        "SELECT table_name, data_length, index_length FROM information_schema.tables "
                        "WHERE table_schema = :db"
                    ),
                    {"db": MYSQL_DB},
                )
            ).all()
            tables = {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}
        elif store_name == "postgresql":
            rows = (
                await conn.execute(
                    text(
                        "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) "
                        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
                    )
                )
            ).all()
            tables = {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}
        else:
            tables = {}
            try:
                rows = (
                    await conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
                ).all()
                for name, size in rows:
                    is_index = str(name).startswith(("ix_", "sqlite_autoindex"))
                    tables[str(name)] = (0, int(size or 0)) if is_index else (int(size or 0), 0)
            except Exception:  # dbstat is an optional SQLite extension
                tables = {"(file)": (SQLITE_FILE.stat().st_size, 0)}
    tables = {
        name: sizes
        for name, sizes in tables.items()
        if "alembic" not in name and not name.startswith("sqlite_schema")
    }
    data = sum(v[0] for v in tables.values())
    index = sum(v[1] for v in tables.values())
    return {"data_bytes": data, "index_bytes": index, "tables": tables}


async def _redis_memory_usage() -> dict[str, Any]:
    """MEMORY USAGE of our keys by kind (a task's hash, the index sets): count and size each."""
    client = await _redis_client()
    try:
        counts: dict[str, int] = {}
        samples: dict[str, list[bytes]] = {}
        async for key in client.scan_iter(match=f"*{REDIS_PREFIX}*", count=5000):
            name = key.decode(errors="replace").replace(REDIS_PREFIX, "<prefix>")
            kind = CALL_ID_KEY.sub(":once:<call id>", _TASK_ID.sub("<id>", name))
            counts[kind] = counts.get(kind, 0) + 1
            if len(samples.setdefault(kind, [])) < 20:
                samples[kind].append(key)
        usage: dict[str, Any] = {}
        for kind in sorted(counts):
            sizes = []
            for key in samples[kind]:
                # SAMPLES 0: every element of a large sorted set, not an estimate from 5.
                size = await client.memory_usage(key, samples=0)
                if size is not None:
                    sizes.append(int(size))
            usage[kind] = {
                "keys": counts[kind],
                "bytes_each_median": statistics.median(sizes) if sizes else None,
            }
        return usage
    finally:
        await client.aclose()


_TASK_ID = re.compile(r"m\d{7}")


# ---------------------------------------------------------------------- what the server does


class _Statements:
    """The SQL statements a store sends (and their parameters), captured from its engine."""

    def __init__(self, store: Any) -> None:
        import sqlalchemy as sa

        self.seen: dict[str, Any] = {}
        self.engine = store.engine
        self._sync = store.engine.sync_engine
        self.recording = False
        sa.event.listen(self._sync, "before_cursor_execute", self._statement)

    def _statement(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any
    ) -> None:
        if not self.recording:
            return
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if verb in ("SELECT", "UPDATE", "DELETE", "WITH") and statement not in self.seen:
            self.seen[statement] = parameters

    async def explain(self, store_name: str) -> list[dict[str, str]]:
        prefix = "EXPLAIN QUERY PLAN " if store_name == "sqlite" else "EXPLAIN "
        plans = []
        for statement, parameters in self.seen.items():
            try:
                async with self.engine.connect() as conn:
                    result = await conn.exec_driver_sql(prefix + statement, parameters)
                    rows = result.all()
                    await conn.rollback()
            except Exception as exc:
                plans.append(
                    {"statement": _squash(statement), "plan": f"(could not explain: {exc})"}
                )
                continue
            plans.append({"statement": _squash(statement), "plan": _plan_text(store_name, rows)})
        return plans


def _squash(statement: str) -> str:
    return " ".join(statement.split())


def _plan_text(store_name: str, rows: list[Any]) -> str:
    if store_name == "postgresql":
        lines = [str(row[0]) for row in rows]
    elif store_name == "sqlite":
        lines = [str(row[-1]) for row in rows]
    else:  # MariaDB: id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
        lines = [" | ".join("" if value is None else str(value) for value in row) for row in rows]
        lines.insert(
            0,
            "id | select_type | table | type | possible_keys | key | key_len | ref | rows | Extra",
        )
    if len(lines) > _MAX_PLAN_LINES:
        lines = [*lines[:_MAX_PLAN_LINES], f"... ({len(lines) - _MAX_PLAN_LINES} more lines)"]
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def _redis_slowlog(enabled: bool) -> Any:
    """Log every command (slowlog-log-slower-than 0) meanwhile; yields a list filled at exit."""
    entries: list[dict[str, Any]] = []
    if not enabled:
        yield entries
        return
    client = await _redis_client()
    old = (await client.config_get("slowlog-log-slower-than"))["slowlog-log-slower-than"]
    began = int(time.time())
    try:
        await client.config_set("slowlog-log-slower-than", 0)
        yield entries
    finally:
        await client.config_set("slowlog-log-slower-than", old)
        for entry in await client.slowlog_get(128):
            command = entry.get("command", b"")
            if isinstance(command, bytes):
                command = command.decode(errors="replace")
            if entry.get("start_time", 0) < began or REDIS_PREFIX not in str(command):
                continue
            words = str(command).split()
            entries.append(
                {
                    "command": " ".join(words[:4])[:120],
                    "microseconds": int(entry.get("duration", 0)),
                }
            )
        entries.reverse()
        await client.aclose()


# ---------------------------------------------------------------------- the workload


async def million(store_name: str, params: dict[str, Any]) -> dict[str, Any]:
    big, small = int(params["big"]), int(params["small"])
    batch, samples, size = (
        int(params["batch"]),
        int(params["samples"]),
        int(params.get("claim", 50)),
    )
    store = make_store(store_name)
    await store.start()
    await store.remove_all_tasks()
    statements = _Statements(store) if store_name in ("mariadb", "postgresql", "sqlite") else None
    base = datetime.now(UTC) + timedelta(days=1)
    memory_before = (
        _rss_bytes()
        if store_name == "memory"
        else await _redis_used_memory()
        if store_name == "redis"
        else 0
    )
    metrics: dict[str, Any] = {"big": big, "small": small}
    details: dict[str, Any] = {}
    try:
        for start in range(0, small, batch):
            await store.add_tasks(_background(start, min(small, start + batch), base))
        metrics.update(await _timings(store, samples, size, "small"))

        batch_times: list[float] = []
        began = time.perf_counter()
        for start in range(small, big, batch):
            tasks = _background(start, min(big, start + batch), base)
            t0 = time.perf_counter()
            await store.add_tasks(tasks)
            batch_times.append(time.perf_counter() - t0)
        fill_s = time.perf_counter() - began
        added = big - small
        metrics["add_rate"] = added / fill_s if fill_s > 0 else None
        metrics["add_batch_first_ms"] = batch_times[0] * 1e3 if batch_times else None
        metrics["add_batch_last_ms"] = batch_times[-1] * 1e3 if batch_times else None
        metrics["add_batch_median_ms"] = (
            statistics.median(batch_times) * 1e3 if batch_times else None
        )

        async with _redis_slowlog(store_name == "redis" and bool(params.get("slowlog"))) as slow:
            if statements is not None:
                statements.recording = True
            metrics.update(await _timings(store, samples, size, "big"))
            if statements is not None:
                statements.recording = False
        for step in ("claim", "wakeup", "add", "acquire", "complete"):
            small_ms, big_ms = metrics.get(f"{step}_small_ms"), metrics.get(f"{step}_big_ms")
            if small_ms and big_ms:
                metrics[f"{step}_ratio"] = big_ms / small_ms

        if store_name == "memory":
            metrics["bytes_per_task"] = (_rss_bytes() - memory_before) / big
            details["memory"] = "resident set size of this process, before and after, per task"
        elif store_name == "redis":
            metrics["bytes_per_task"] = (await _redis_used_memory() - memory_before) / big
            details["memory"] = "INFO memory used_memory, before and after, per task"
            details["memory_usage"] = await _redis_memory_usage()
            details["slowlog"] = slow
        else:
            sizes = await _sql_bytes(store_name, store)
            if sizes:
                metrics["bytes_per_task"] = (sizes["data_bytes"] + sizes["index_bytes"]) / big
                metrics["data_bytes_per_task"] = sizes["data_bytes"] / big
                metrics["index_bytes_per_task"] = sizes["index_bytes"] / big
                details["tables"] = sizes["tables"]
            details["memory"] = {
                "mariadb": "information_schema.tables data_length + index_length (InnoDB's estimate)",
                "postgresql": "pg_table_size + pg_indexes_size of our tables (no ANALYZE, no VACUUM)",
                "sqlite": "dbstat page bytes of every table and index",
            }[store_name]
            if statements is not None:
                details["explain"] = await statements.explain(store_name)
        metrics["duplicates"] = _claimed_twice[0]
    finally:
        await store.remove_all_tasks()
        await store.shutdown()
    metrics["details"] = details
    return metrics
