"""``taskshed db upgrade|downgrade|current|history|stamp``: the SQL schema from the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from taskshed.config import load_settings
from taskshed.errors import ConfigurationError, DataStoreError
from taskshed.urls import URL

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

# Alembic announces each of its own plugins at INFO; only its migration steps matter here.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

_DATASTORE_HELP = (
    "SQL datastore URL (default: $TASKSHED_DATASTORE, then [tool.taskshed] in "
    "pyproject.toml, then the embedded SQLite file taskshed.db)"
)


def add_db_command(subparsers: argparse._SubParsersAction) -> None:
    """Add ``taskshed db`` and its sub-commands."""
    db = subparsers.add_parser(
        "db",
        help="manage the SQL datastore's schema (Alembic migrations)",
        description="Create, upgrade or inspect the schema of a SQL datastore. "
        "Revisions are kept in their own version table, taskshed_alembic_version.",
    )
    db.set_defaults(func=lambda args: _usage(db))
    commands = db.add_subparsers(dest="db_command", metavar="ACTION")

    upgrade = commands.add_parser("upgrade", help="upgrade the schema (default: to the newest)")
    upgrade.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    _common(upgrade, sql=True)
    upgrade.set_defaults(func=run_upgrade)

    downgrade = commands.add_parser("downgrade", help="downgrade the schema")
    downgrade.add_argument(
        "revision",
        help="target: a revision id, -1, or base (drops the tasks table, after asking); "
        "with --sql a FROM:TO range such as ts_0002:base",
    )
    downgrade.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="don't ask before a downgrade that drops the tasks table",
    )
    _common(downgrade, sql=True)
    downgrade.set_defaults(func=run_downgrade)

    current = commands.add_parser("current", help="show the revision the database is at")
    current.add_argument(
        "--check",
        action="store_true",
        help="exit with status 1 unless the schema is the one this release needs "
        "(missing, older or unknown: a deploy gate)",
    )
    _common(current, sql=False)
    current.set_defaults(func=run_current)

    history = commands.add_parser("history", help="list the revisions this release ships")
    _common(history, sql=False)
    history.set_defaults(func=run_history)

    stamp = commands.add_parser("stamp", help="record a revision as applied without running it")
    stamp.add_argument("revision", help="the revision to record")
    _common(stamp, sql=True)
    stamp.set_defaults(func=run_stamp)


def _common(parser: argparse.ArgumentParser, *, sql: bool) -> None:
    parser.add_argument("--datastore", metavar="URL", help=_DATASTORE_HELP)
    if sql:
        parser.add_argument(
            "--sql",
            action="store_true",
            help="print the SQL instead of running it (no connection is made)",
        )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _url(args: argparse.Namespace) -> URL:
    settings = load_settings(datastore=args.datastore)
    from taskshed_sqlalchemy.urls import SCHEMES

    if settings.datastore.scheme not in SCHEMES:
        raise ConfigurationError(
            f"`taskshed db` works on SQL datastores; {settings.datastore} "
            f"(from {settings.datastore_source}) is not one"
        )
    try:
        import alembic  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        from taskshed_sqlalchemy.plugin import extra_for

        extra = extra_for(settings.datastore.scheme)
        raise ConfigurationError(
            f"`taskshed db` needs SQLAlchemy and Alembic: pip install 'taskshed[{extra}]' ({exc})"
        ) from None
    return settings.datastore


def _with_engine(url: URL, action: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    import sqlalchemy as sa

    from taskshed_sqlalchemy.engines import create_engine
    from taskshed_sqlalchemy.urls import engine_spec

    async def run() -> T:
        try:
            engine = create_engine(engine_spec(url))
        except ImportError as exc:
            raise _driver_missing(url, exc) from None
        try:
            return await action(engine)
        except sa.exc.SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None) or exc
            raise DataStoreError(f"{url}: {type(orig).__name__}: {orig}") from None
        except OSError as exc:
            raise DataStoreError(f"{url}: {exc}") from None
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _driver_missing(url: URL, exc: ImportError) -> ConfigurationError:
    from taskshed_sqlalchemy.plugin import extra_for
    from taskshed_sqlalchemy.urls import SCHEMES

    driver = SCHEMES.get(url.scheme, url.scheme)
    return ConfigurationError(
        f"the {driver} driver is not installed: "
        f"pip install 'taskshed[{extra_for(url.scheme)}]' ({exc})"
    )


def _migrate(args: argparse.Namespace, action: str, revision: str) -> int:
    url = _url(args)
    from taskshed_sqlalchemy import migrate

    if args.sql:
        sys.stdout.write(migrate.render_sql(url, action, revision))
        return 0
    runners = {"upgrade": migrate.upgrade, "downgrade": migrate.downgrade, "stamp": migrate.stamp}
    _with_engine(url, lambda engine: runners[action](engine, revision))
    now = _with_engine(url, migrate.current)
    print(f"{url}: schema at revision {now or '<base>'}")
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    return _migrate(args, "upgrade", args.revision)


def run_downgrade(args: argparse.Namespace) -> int:
    if not args.sql and not args.yes:
        url = _url(args)
        tasks = _with_engine(url, lambda engine: _tasks_dropped_by(engine, args.revision))
        if tasks is not None and not _confirm_drop(url, args.revision, tasks):
            return 1
    return _migrate(args, "downgrade", args.revision)


async def _tasks_dropped_by(engine: AsyncEngine, revision: str) -> int | None:
    """How many tasks a downgrade to ``revision`` would drop with the table; ``None``: it keeps it."""
    import sqlalchemy as sa

    from taskshed_sqlalchemy import migrate, schema

    if not migrate.reaches_base(revision, await migrate.current(engine)):
        return None
    async with engine.connect() as conn:

        def count(sync_conn: sa.Connection) -> int:
            if not sa.inspect(sync_conn).has_table(schema.TABLE_NAME):
                return 0
            table = sa.table(schema.TABLE_NAME)
            return int(
                sync_conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )

        return await conn.run_sync(count)


def _confirm_drop(url: URL, revision: str, tasks: int) -> bool:
    what = f"`taskshed db downgrade {revision}` drops the taskshed tables of {url} with their {tasks} task(s)"
    if not sys.stdin or not sys.stdin.isatty():
        print(
            f"taskshed: error: {what}; not without confirmation: add --yes to go ahead",
            file=sys.stderr,
        )
        return False
    try:
        answer = input(f"{what}. Type 'yes' to go ahead: ")
    except EOFError:
        answer = ""
    if answer.strip().lower() != "yes":
        print("taskshed: nothing changed", file=sys.stderr)
        return False
    return True


def run_stamp(args: argparse.Namespace) -> int:
    return _migrate(args, "stamp", args.revision)


def run_current(args: argparse.Namespace) -> int:
    url = _url(args)
    from taskshed_sqlalchemy import migrate

    revision = _with_engine(url, migrate.current)
    head = migrate.head_revision()
    if revision is None:
        print(f"{url}: no taskshed schema (run `taskshed db upgrade`)")
    elif revision == head:
        print(f"{url}: {revision} (head)")
    elif migrate.is_known(revision):
        print(f"{url}: {revision} (this release's head is {head}; run `taskshed db upgrade`)")
    else:
        print(
            f"{url}: {revision} (unknown to this release, whose head is {head}: "
            "a newer taskshed-sqlalchemy wrote it)"
        )
    if args.check and revision != head:
        return 1
    return 0


def run_history(args: argparse.Namespace) -> int:
    _url(args)
    from taskshed_sqlalchemy import migrate

    sys.stdout.write(migrate.history())
    return 0
