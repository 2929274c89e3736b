"""The first connection to a store: stop at once on what won't fix itself, wait for the rest.

A wrong password, an unknown database, a missing driver or schema won't fix
themselves by retrying, so a command stops with one line naming the cause. A
server that isn't up yet may be waited for (``--wait-for-store``). Stores say
"permanent" by raising :class:`~taskshed.errors.PermanentDataStoreError`;
for stores that don't (yet), the drivers' own errors are recognised in the
exception chain by their class names and codes, without importing a driver.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

from taskshed.datastores.base import DataStore
from taskshed.errors import ConfigurationError, DataStoreError, PermanentDataStoreError

log = logging.getLogger("taskshed.cli")

#: MySQL/MariaDB server error codes that retrying won't change.
_MYSQL_CODES = {
    1044: "this user may not use that database",
    1045: "wrong user name or password",
    1049: "the database does not exist",
    1251: "the server wants an authentication method the driver lacks",
    1698: "wrong user name or password",
    2059: "the server wants an authentication method the driver lacks",
}
#: PostgreSQL SQLSTATEs (and asyncpg's class names for them) that retrying won't change.
_POSTGRES_STATES = {
    "28P01": "wrong user name or password",
    "28000": "this user may not connect",
    "3D000": "the database does not exist",
}
_ASYNCPG_CLASSES = {
    "InvalidPasswordError": "28P01",
    "InvalidAuthorizationSpecificationError": "28000",
    "InvalidCatalogNameError": "3D000",
}
#: Redis replies (their first words) that retrying won't change.
_REDIS_REPLIES = {
    "WRONGPASS": "wrong user name or password",
    "NOAUTH": "the server wants a password",
    "NOPERM": "this user may not run taskshed's commands",
    "ERR DB index is out of range": "the database number does not exist on this server",
    "ERR invalid DB index": "the database number does not exist on this server",
    "ERR invalid password": "wrong password",
    "ERR AUTH": "the server has no password set, but the URL gives one",
    "ERR Client sent AUTH": "the server has no password set, but the URL gives one",
}


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and the driver errors SQLAlchemy keeps in ``.orig``."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        err = todo.pop(0)
        if id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        for nxt in (getattr(err, "orig", None), err.__cause__, err.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def permanent_reason(exc: BaseException) -> str | None:
    """Why ``exc`` (raised while connecting) won't go away by retrying; ``None`` if it may."""
    for err in exception_chain(exc):
        if isinstance(err, (PermanentDataStoreError, ConfigurationError)):
            return _one_line(str(err))
        if isinstance(err, ImportError):
            return _one_line(f"a driver is not installed: {err}")
        reason = _driver_reason(err)
        if reason is not None:
            return _one_line(f"{reason} ({type(err).__name__}: {err})")
    return None


def _driver_reason(err: BaseException) -> str | None:
    module = type(err).__module__ or ""
    name = type(err).__name__
    if module.startswith(("asyncmy", "pymysql", "MySQLdb", "aiomysql")):
        code = err.args[0] if err.args else None
        return _MYSQL_CODES.get(code) if isinstance(code, int) else None
    if module.startswith("asyncpg") or module.startswith("psycopg"):
        state = getattr(err, "sqlstate", None) or _ASYNCPG_CLASSES.get(name)
        return _POSTGRES_STATES.get(str(state)) if state else None
    if module.startswith("redis"):
        if name.startswith("Authentication"):
            return "wrong user name or password, or the server wants one"
        text = str(err)
        for start, reason in _REDIS_REPLIES.items():
            if text.startswith(start) or text.startswith(start.removeprefix("ERR ")):
                return reason
        return None
    if module in ("sqlite3", "aiosqlite") and "unable to open database file" in str(err):
        return "the SQLite file can't be opened (does its folder exist, may this user write there?)"
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def connect(store: DataStore, *, wait: float = 0.0, describe: str = "") -> None:
    """Start ``store``; raise :class:`PermanentDataStoreError` with one line if that fails for good.

    A failure that may pass (a server not up yet, a network blip) is retried
    with backoff for up to ``wait`` seconds, then reported the same way.
    """
    deadline = time.monotonic() + wait
    delay = 0.25
    where = f" {describe}" if describe else ""
    while True:
        try:
            await store.start()
            return
        except Exception as exc:
            reason = permanent_reason(exc)
            if reason is not None:
                await _close(store)
                raise PermanentDataStoreError(f"can't use the datastore{where}: {reason}") from exc
            left = deadline - time.monotonic()
            cause = _one_line(f"{type(exc).__name__}: {exc}")
            if left <= 0:
                await _close(store)
                hint = (
                    f" (still failing after --wait-for-store {wait:g} s)"
                    if wait
                    else "; pass --wait-for-store SECONDS to wait for it at start-up"
                )
                raise DataStoreError(f"can't reach the datastore{where}: {cause}{hint}") from exc
            log.warning(
                "datastore%s not reachable yet (%s); retrying for up to %.0f s more",
                where,
                cause,
                left,
            )
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)


async def _close(store: DataStore) -> None:
    try:
        await store.shutdown()
    except Exception as exc:
        log.debug("closing the datastore after a failed start: %s", exc)
    # aiosqlite closes a connection that failed to open on its own thread, which
    # reports back to this loop: leave it a moment before the command's loop closes,
    # or that thread prints a "loop is closed" traceback after our one-line error.
    await asyncio.sleep(0.1)
