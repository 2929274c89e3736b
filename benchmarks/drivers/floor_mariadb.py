"""The raw-driver floor on MariaDB: the statements a safe claim needs, sent by asyncmy alone.

Ours is measured against TaskShed 0.10 on MariaDB, which reads due rows and
deletes them before their callbacks run. To show what safety itself costs, the
runner times, on the same server and the same rows (our table, filled by our
``add_tasks``), the bare statements with no scheduler around them:

* ``safe``: per batch of 100, ``SELECT ... FOR UPDATE SKIP LOCKED`` + ``UPDATE``
  (the claim) + ``COMMIT``, then ``SELECT ... FOR UPDATE`` + ``DELETE`` +
  ``COMMIT`` (the completion) — the least a worker can send that claims under a
  lease and removes a task only after it ran;
* ``unsafe``: the reference's way, one ``SELECT`` of every due row, one ``DELETE``
  of them, ``COMMIT``;
* ``insert``: one ``executemany`` of ``INSERT ... ON DUPLICATE KEY UPDATE`` rows
  (what ``add_tasks`` sends) + ``COMMIT``.

Each reports wall time, this process's CPU and the server's CPU.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from common import MYSQL_HOST, MYSQL_PORT, MYSQL_USER, server_cpu_seconds

BATCH = 100
_COLUMNS = "task_id, run_at, paused, callback, kwargs, run_type, `coalesce`"


async def _connect(database: str) -> Any:
    import asyncmy

    conn = await asyncmy.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, db=database, autocommit=False
    )
    async with conn.cursor() as cur:
        await cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    await conn.commit()
    return conn


async def _measured(database: str, body: Callable[[Any], Awaitable[int]]) -> dict[str, float]:
    """Run ``body(connection)`` on a connection of its own; its times and the rows it did."""
    conn = await _connect(database)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        server = server_cpu_seconds("mariadb")
        rows = await body(conn)
        after = server_cpu_seconds("mariadb")
        return {
            "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "server_cpu_s": (after - server) if after is not None and server is not None else 0.0,
            "rows": float(rows),
        }
    finally:
        conn.close()


async def safe_claims(database: str, now_us: int) -> dict[str, float]:
    """Claim every due row in batches under a lease, then delete each batch: the safe protocol."""
    token = uuid.uuid4().hex
    lease = now_us + 30_000_000

    async def body(conn: Any) -> int:
        done = 0
        async with conn.cursor() as cur:
            while True:
                await cur.execute(
                    "SELECT task_id FROM _taskshed_data FORCE INDEX (ix_taskshed_data_paused_run_at)"
                    " WHERE paused = 0 AND claim_token IS NULL AND run_at <= %s"
                    " ORDER BY run_at LIMIT %s FOR UPDATE SKIP LOCKED",
                    (now_us, BATCH),
                )
                ids = [row[0] for row in await cur.fetchall()]
                if not ids:
                    return done
                marks = ", ".join(["%s"] * len(ids))
                await cur.execute(
                    "UPDATE _taskshed_data SET claim_token = %s, lease_until = %s,"
                    f" claimed_by = %s WHERE task_id IN ({marks})",
                    (token, lease, "floor", *ids),
                )
                await conn.commit()
                await cur.execute(
                    f"SELECT task_id, claim_token FROM _taskshed_data WHERE task_id IN ({marks})"
                    " FOR UPDATE",
                    ids,
                )
                await cur.fetchall()
                await cur.execute(f"DELETE FROM _taskshed_data WHERE task_id IN ({marks})", ids)
                await conn.commit()
                done += len(ids)

    return await _measured(database, body)


async def unsafe_read_and_delete(database: str, now_us: int) -> dict[str, float]:
    """The reference's way: read every due row, delete them, commit (nothing claimed)."""

    async def body(conn: Any) -> int:
        async with conn.cursor() as cur:
            await cur.execute(
                f"SELECT {_COLUMNS} FROM _taskshed_data WHERE run_at <= %s", (now_us,)
            )
            ids = [row[0] for row in await cur.fetchall()]
            if ids:
                marks = ", ".join(["%s"] * len(ids))
                await cur.execute(f"DELETE FROM _taskshed_data WHERE task_id IN ({marks})", ids)
            await conn.commit()
            return len(ids)

    return await _measured(database, body)


async def insert_rows(
    database: str, rows: list[tuple[str, int, dict[str, Any]]]
) -> dict[str, float]:
    """``executemany`` of the upsert ``add_tasks`` sends, for ``(task_id, run_at_us, kwargs)``."""
    values = [
        (task_id, run_at, 0, "noop", json.dumps(kwargs), "once", 1)
        for task_id, run_at, kwargs in rows
    ]

    async def body(conn: Any) -> int:
        async with conn.cursor() as cur:
            await cur.executemany(
                f"INSERT INTO _taskshed_data ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON DUPLICATE KEY UPDATE run_at = VALUES(run_at), kwargs = VALUES(kwargs)",
                values,
            )
        await conn.commit()
        return len(values)

    return await _measured(database, body)
