"""``taskshed db``: a deploy gate (``current --check``), one-line driver errors, a guarded ``downgrade base``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from taskshed_sqlalchemy import migrate, schema
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.cli.main import main
from taskshed.models import Task
from taskshed.timeutils import utcnow
from tests.sql.databases import drop_tables
from tests.sql.isolated import isolated_url


@pytest.fixture
def url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = isolated_url(backend, tmp_path)
    yield url
    if backend != "sqlite":
        asyncio.run(drop_tables(url))


def _db(*args: str) -> int:
    return main(["db", *args])


async def _on(url: str, action):  # type: ignore[no-untyped-def]
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        return await action(engine)
    finally:
        await engine.dispose()


def _upgrade(url: str, revision: str = "head") -> None:
    asyncio.run(_on(url, lambda engine: migrate.upgrade(engine, revision)))


def _current(url: str) -> str | None:
    return asyncio.run(_on(url, migrate.current))


def _add_tasks(url: str, count: int) -> None:
    from taskshed_sqlalchemy.store import SQLAlchemyDataStore

    async def add() -> None:
        store = SQLAlchemyDataStore(url, create_schema=False)
        await store.start()
        try:
            await store.add_tasks(
                Task(callback="cb", run_at=utcnow(), task_id=f"t{i}") for i in range(count)
            )
        finally:
            await store.shutdown()

    asyncio.run(add())


def _table_exists(url: str) -> bool:
    async def check(engine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync_conn: sa.inspect(sync_conn).has_table(schema.TABLE_NAME)
            )

    return bool(asyncio.run(_on(url, check)))


# ------------------------------------------------------------------ current --check


def test_current_check_fails_unless_the_schema_is_at_head(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _db("current", "--check", "--datastore", url) == 1, "a missing schema passed"
    assert "no taskshed schema" in capsys.readouterr().out
    assert _db("current", "--datastore", url) == 0, "without --check, current only reports"

    _upgrade(url, "ts_0001")
    assert _db("current", "--check", "--datastore", url) == 1, "an older schema passed"
    assert "run `taskshed db upgrade`" in capsys.readouterr().out

    _upgrade(url)
    assert _db("current", "--check", "--datastore", url) == 0
    assert "(head)" in capsys.readouterr().out


def test_current_check_fails_on_a_revision_this_release_does_not_know(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _upgrade(url)

    async def stamp_future(engine):  # type: ignore[no-untyped-def]
        version = sa.table(schema.VERSION_TABLE, sa.column("version_num"))
        async with engine.begin() as conn:
            await conn.execute(sa.update(version).values(version_num="ts_9999"))

    asyncio.run(_on(url, stamp_future))
    assert _db("current", "--check", "--datastore", url) == 1
    assert "ts_9999 (unknown to this release" in capsys.readouterr().out


# ------------------------------------------------------------------ missing drivers

_DRIVER_URLS = [
    pytest.param("asyncmy", "mysql+asyncmy://root@127.0.0.1:3306/x", "mysql", id="asyncmy"),
    pytest.param(
        "asyncpg", "postgresql+asyncpg://postgres@127.0.0.1/x", "postgresql", id="asyncpg"
    ),
    pytest.param("aiosqlite", "sqlite+aiosqlite:///x.db", "sqlite", id="aiosqlite"),
]


@pytest.mark.parametrize(("driver", "target", "extra"), _DRIVER_URLS)
@pytest.mark.parametrize("action", [["current"], ["upgrade"], ["downgrade", "--yes", "-1"]])
def test_a_missing_driver_is_one_line_naming_the_extra(
    driver: str,
    target: str,
    extra: str,
    action: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, driver, None)  # as if it were not installed
    assert _db(*action, "--datastore", target) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"pip install 'taskshed[{extra}]'" in err
    assert driver in err


def test_a_missing_driver_prints_no_traceback_from_the_real_command(tmp_path: Path) -> None:
    block = "import sys; sys.modules['asyncmy'] = None; from taskshed.cli.main import main; sys.exit(main())"
    result = subprocess.run(
        [sys.executable, "-c", block, "db", "current", "--check",
         "--datastore", "mysql+asyncmy://root@127.0.0.1:3306/x"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "taskshed: error: the mysql+asyncmy driver is not installed: "
        "pip install 'taskshed[mysql]' (import of asyncmy halted; None in sys.modules)"
    ]


# ------------------------------------------------------------------ downgrade base


class _Terminal:
    """Stands in for an interactive stdin that answers ``answer``."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.prompts = 0

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        self.prompts += 1
        return self.answer


def test_downgrade_base_refuses_without_confirmation_when_not_interactive(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _upgrade(url)
    _add_tasks(url, 3)
    monkeypatch.setattr(sys, "stdin", None)
    assert _db("downgrade", "base", "--datastore", url) == 1
    err = capsys.readouterr().err
    assert "with their 3 task(s)" in err and "--yes" in err
    assert _table_exists(url) and _current(url) == schema.SCHEMA_REVISION

    assert _db("downgrade", "base", "--yes", "--datastore", url) == 0
    assert not _table_exists(url) and _current(url) is None


@pytest.mark.parametrize(("answer", "dropped"), [("yes\n", True), ("no\n", False), ("", False)])
def test_downgrade_base_asks_at_a_terminal(
    url: str, answer: str, dropped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _upgrade(url)
    terminal = _Terminal(answer)
    monkeypatch.setattr(sys, "stdin", terminal)
    assert _db("downgrade", "base", "--datastore", url) == (0 if dropped else 1)
    assert terminal.prompts == 1
    assert _table_exists(url) is not dropped


def test_a_relative_downgrade_asks_only_when_it_reaches_base(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _upgrade(url)
    terminal = _Terminal("no\n")
    monkeypatch.setattr(sys, "stdin", terminal)
    steps = len(list(migrate.script_directory().walk_revisions()))
    assert _db("downgrade", f"-{steps}", "--datastore", url) == 1
    assert terminal.prompts == 1 and _table_exists(url)
    assert _db("downgrade", "-1", "--datastore", url) == 0
    assert terminal.prompts == 1, "a downgrade that keeps the table asked anyway"
    assert _current(url) != schema.SCHEMA_REVISION and _table_exists(url)


def test_offline_sql_of_downgrade_base_needs_no_confirmation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    head = migrate.head_revision()
    assert _db("downgrade", "--sql", f"{head}:base", "--datastore", "sqlite:///x.db") == 0
    assert "DROP TABLE" in capsys.readouterr().out
