"""Running our Alembic revisions: under a database lock, from a wheel or a checkout.

Two routes run them: ``taskshed db ...`` (and :func:`upgrade` and friends
from Python), and the plain ``alembic`` command with an ini file whose
``script_location`` is ``taskshed_sqlalchemy:migrations`` (see
:func:`run_for_alembic_command`). Both take the same lock.

The revisions live in ``migrations/`` at the repository root; wheels carry
them as ``taskshed_sqlalchemy/migrations``. Every online command runs inside
one transaction that first takes a database-wide lock, so two processes
upgrading at once take turns, and the second finds nothing left to do:

- MySQL/MariaDB: ``GET_LOCK`` (a named server lock, held by the session);
- PostgreSQL: ``pg_advisory_xact_lock`` (released when the transaction ends);
- SQLite: ``BEGIN EXCLUSIVE`` (the file's write lock; DDL is transactional).

A database holding TaskShed 0.10's table and no version table is stamped
with the revision its layout matches before upgrading, so its rows are kept.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskshed.errors import ConfigurationError, DataStoreError, SchemaVersionError
from taskshed.urls import URL
from taskshed_sqlalchemy import schema
from taskshed_sqlalchemy.engines import prepare_engine, set_sqlite_begin
from taskshed_sqlalchemy.urls import offline_url

log = logging.getLogger(__name__)

#: Seconds to wait for another process's migration to finish (MySQL/MariaDB).
LOCK_TIMEOUT = 300
#: The baseline revision: TaskShed 0.10's ``_taskshed_data`` exactly.
BASELINE_REVISION = "ts_0001"
_PG_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"taskshed-migrations").digest()[:8], "big", signed=True
)


def migrations_dir() -> Path:
    """The Alembic environment: inside the installed package, or at the checkout's root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "migrations", here.parents[3] / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigurationError(
        "the taskshed migrations are missing: expected taskshed_sqlalchemy/migrations "
        "in the installed package (reinstall taskshed-sqlalchemy)"
    )


def alembic_config(*, url: URL | str | None = None, stdout: TextIO | None = None) -> Config:
    """An Alembic ``Config`` for our environment.

    ``url`` is only needed for offline (``--sql``) rendering, and only its
    dialect is kept: no password reaches Alembic's configuration.
    """
    config = Config(stdout=stdout or io.StringIO(), output_buffer=stdout)
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    config.set_main_option("version_table", schema.VERSION_TABLE)
    if url is not None:
        config.set_main_option("sqlalchemy.url", offline_url(url))
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    assert head is not None
    return head


def is_known(revision: str) -> bool:
    """Whether ``revision`` is one of the revisions this release ships."""
    return any(script.revision == revision for script in script_directory().walk_revisions())


_RELATIVE = re.compile(r"^(?P<start>[A-Za-z0-9_]+)?-(?P<steps>[0-9]+)$")


def reaches_base(target: str, current: str | None) -> bool:
    """Whether downgrading from ``current`` to ``target`` ends at base (dropping the tasks table).

    Understands ``base``, relative steps (``-2``, ``ts_0002-2``) and revision ids.
    """
    if target == "base":
        return True
    match = _RELATIVE.match(target)
    if match is None:
        return False
    start = match["start"] or current
    if start is None:
        return False
    depth = 0
    scripts = script_directory()
    revision: str | None = start
    while revision is not None:
        try:
            found = scripts.get_revision(revision)
        except CommandError:  # unknown: let the downgrade itself report it
            return False
        if found is None:
            return False
        depth += 1
        down = found.down_revision
        revision = down if isinstance(down, str) or down is None else down[0]
    return int(match["steps"]) >= depth


class MigrationError(SchemaVersionError):
    """A migration failed in the database (a DDL statement was refused, say).

    The schema is then not the one this release needs, so this is a
    :class:`~taskshed.errors.SchemaVersionError`: ``taskshed worker`` stops
    on it rather than retrying. On MySQL/MariaDB the revision that failed may
    be half-applied (see docs/migrations.md).
    """


# ---------------------------------------------------------------------- the lock


@asynccontextmanager
async def migration_lock(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that holds the database's migration lock."""
    prepare_engine(engine)
    dialect = engine.dialect.name
    async with engine.connect() as conn:
        if dialect == "sqlite":
            # Waits up to the busy timeout for another writer to finish.
            await set_sqlite_begin(conn, "EXCLUSIVE")
            async with conn.begin():
                yield conn
        elif dialect == "postgresql":
            async with conn.begin():
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                )
                yield conn
        elif dialect in ("mysql", "mariadb"):
            name = await _mysql_lock_name(conn)
            got = (
                await conn.execute(
                    sa.text("SELECT GET_LOCK(:name, :timeout)"),
                    {"name": name, "timeout": LOCK_TIMEOUT},
                )
            ).scalar()
            await conn.commit()
            if got != 1:
                raise DataStoreError(
                    f"another process has been migrating this database for over {LOCK_TIMEOUT} s"
                )
            try:
                async with conn.begin():
                    yield conn
            finally:
                await conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
                await conn.commit()
        else:
            raise DataStoreError(f"no migration lock for the {dialect!r} dialect")


async def _mysql_lock_name(conn: AsyncConnection) -> str:
    # GET_LOCK names are server-wide: one per database, at most 64 characters.
    database = (await conn.execute(sa.text("SELECT DATABASE()"))).scalar() or ""
    digest = hashlib.sha256(str(database).encode()).hexdigest()[:32]
    return f"taskshed_migrate_{digest}"


# ---------------------------------------------------------------------- commands


async def _locked(engine: AsyncEngine, run: Callable[[Config, sa.Connection], None]) -> str:
    """Run an Alembic command under the lock; return what it printed.

    A statement the database refused is a :class:`MigrationError`; failing to
    connect, or losing the connection, is a plain (retryable)
    :class:`~taskshed.errors.DataStoreError`.
    """
    out = io.StringIO()
    config = alembic_config(stdout=out)
    try:
        async with migration_lock(engine) as conn:

            def apply(sync_conn: sa.Connection) -> None:
                config.attributes["connection"] = sync_conn
                run(config, sync_conn)

            try:
                await conn.run_sync(apply)
            except sa.exc.DBAPIError as exc:
                if exc.connection_invalidated:
                    raise
                orig = getattr(exc, "orig", None) or exc
                raise MigrationError(f"migration failed: {type(orig).__name__}: {orig}") from exc
    except CommandError as exc:
        raise ConfigurationError(f"migration refused: {exc}") from None
    except sa.exc.SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        raise DataStoreError(f"migration failed: {type(orig).__name__}: {orig}") from exc
    except OSError as exc:
        raise DataStoreError(f"migration failed: {exc}") from exc
    return out.getvalue()


def legacy_revision(sync_conn: sa.Connection) -> str | None:
    """The revision an unversioned ``_taskshed_data`` matches, or ``None`` if there is none.

    Only called when our version table is absent or empty.
    """
    inspector = sa.inspect(sync_conn)
    if not inspector.has_table(schema.TABLE_NAME):
        return None
    columns = {column["name"] for column in inspector.get_columns(schema.TABLE_NAME)}
    if {"claimed_by", "failed_at"} <= columns:
        return "ts_0003"
    if {"claim_token", "lease_until"} <= columns:
        return "ts_0002"
    return BASELINE_REVISION


def _current(sync_conn: sa.Connection) -> str | None:
    inspector = sa.inspect(sync_conn)
    if not inspector.has_table(schema.VERSION_TABLE):
        return None
    version = sa.table(schema.VERSION_TABLE, sa.column("version_num"))
    rows = sync_conn.execute(sa.select(version.c.version_num)).scalars().all()
    return rows[0] if rows else None


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str:
    """Upgrade to ``revision``, first adopting a TaskShed 0.10 table if there is one."""

    def run(config: Config, sync_conn: sa.Connection) -> None:
        if _current(sync_conn) is None:
            adopted = legacy_revision(sync_conn)
            if adopted is not None:
                log.info(
                    "found an unversioned %s table; stamping it as revision %s",
                    schema.TABLE_NAME,
                    adopted,
                )
                command.stamp(config, adopted)
        command.upgrade(config, revision)

    return await _locked(engine, run)


async def downgrade(engine: AsyncEngine, revision: str) -> str:
    return await _locked(engine, lambda config, _conn: command.downgrade(config, revision))


async def stamp(engine: AsyncEngine, revision: str) -> str:
    return await _locked(engine, lambda config, _conn: command.stamp(config, revision))


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None``: no taskshed schema)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def history() -> str:
    """Our revisions, newest first, as Alembic lists them."""
    out = io.StringIO()
    command.history(alembic_config(stdout=out))
    return out.getvalue()


# ---------------------------------------------------------------------- for env.py


def create_version_table(sync_conn: sa.Connection) -> None:
    """Create our version table before Alembic does, on MySQL/MariaDB only.

    Alembic names its primary key (``taskshed_alembic_version_pkc``); MariaDB
    ignores names of primary keys and says so in a warning on every fresh
    upgrade, which the driver logs. The same table with an unnamed key says
    nothing. (Offline ``--sql`` output still carries Alembic's own statement.)
    """
    if sync_conn.dialect.name not in ("mysql", "mariadb"):
        return
    version = sa.Table(
        schema.VERSION_TABLE,
        sa.MetaData(),
        sa.Column("version_num", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("version_num"),
    )
    version.create(sync_conn, checkfirst=True)


def adopt_legacy_table(
    sync_conn: sa.Connection, migration_context: Any, script: ScriptDirectory
) -> None:
    """Stamp an unversioned TaskShed 0.10 table with the revision it matches (the CLI route).

    ``taskshed db upgrade`` does this in :func:`upgrade`; the plain ``alembic``
    command does it here, from ``env.py``, before it migrates.
    """
    if migration_context.get_current_heads():
        return
    adopted = legacy_revision(sync_conn)
    if adopted is not None:
        log.info(
            "found an unversioned %s table; stamping it as revision %s", schema.TABLE_NAME, adopted
        )
        migration_context.stamp(script, adopted)


def alembic_command_url(
    config: Config, x_arguments: dict[str, str], *, offline: bool = False
) -> URL:
    """The database of a plain ``alembic`` command: ``-x datastore=``, the ini, or taskshed's configuration.

    ``offline``: only the dialect is needed (for ``--sql``), as a password-free URL.
    """
    from taskshed.config import load_settings

    given = x_arguments.get("datastore") or config.get_main_option("sqlalchemy.url") or None
    try:
        url = load_settings(datastore=given).datastore
        return URL.parse(offline_url(url)) if offline else url
    except ConfigurationError as exc:
        raise CommandError(f"taskshed migrations: {exc}") from None


def run_for_alembic_command(
    config: Config, x_arguments: dict[str, str], run: Callable[[sa.Connection], None]
) -> None:
    """The online route of the plain ``alembic`` command, for our ``env.py``.

    With ``script_location = taskshed_sqlalchemy:migrations`` in an ini file,
    ``alembic -x datastore=URL upgrade head`` lands here. The URL is
    ``-x datastore=URL``, else the ini's ``sqlalchemy.url``, else taskshed's
    configuration (``TASKSHED_DATASTORE``, ``[tool.taskshed]``). ``run`` gets
    a connection that holds the migration lock, as under ``taskshed db``.
    Problems are reported as Alembic ``CommandError`` (one line: ``FAILED: ...``).
    """
    import asyncio

    from taskshed_sqlalchemy.engines import create_engine
    from taskshed_sqlalchemy.urls import engine_spec

    url = alembic_command_url(config, x_arguments)
    try:
        engine = create_engine(engine_spec(url))
    except (ConfigurationError, ImportError) as exc:
        raise CommandError(f"taskshed migrations: {exc}") from None

    async def locked() -> None:
        try:
            async with migration_lock(engine) as conn:
                await conn.run_sync(run)
        finally:
            await engine.dispose()

    log.info("migrating %s", url)
    try:
        asyncio.run(locked())
    except (sa.exc.SQLAlchemyError, OSError, DataStoreError) as exc:
        orig = getattr(exc, "orig", None) or exc
        raise CommandError(f"taskshed migrations on {url}: {type(orig).__name__}: {orig}") from None


def render_sql(url: URL | str, action: str, revision: str) -> str:
    """The SQL an ``upgrade``/``downgrade``/``stamp`` would run (Alembic's offline mode).

    No database is contacted. A downgrade needs a ``FROM:TO`` range, e.g. ``ts_0002:base``.
    """
    out = io.StringIO()
    config = alembic_config(url=url, stdout=out)
    runners: dict[str, Callable[..., Any]] = {
        "upgrade": command.upgrade,
        "downgrade": command.downgrade,
        "stamp": command.stamp,
    }
    runner = runners.get(action)
    if runner is None:
        raise ConfigurationError(f"can't render {action!r} as SQL")
    try:
        runner(config, revision, sql=True)
    except CommandError as exc:
        raise ConfigurationError(f"can't render {action} {revision!r}: {exc}") from None
    return out.getvalue()
