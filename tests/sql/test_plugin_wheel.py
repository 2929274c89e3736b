"""``pip install taskshed-sqlalchemy`` alone (no driver extra), from wheels into a fresh venv.

It brings SQLAlchemy and Alembic itself, so ``taskshed db --sql upgrade``
works without any driver; ``taskshed plugins`` says the default SQLite store
lacks its driver instead of calling it fine. With the drivers added, the
plain ``alembic`` command finds the revisions inside the installed package
(``script_location = taskshed_sqlalchemy:migrations``) and migrates SQLite,
MariaDB and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sql.databases import database_url, drop_tables

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _run(
    command: list[str], *, cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSHED_", "PYTHONPATH"))}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"{result.args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding the taskshed-sqlalchemy wheel (and the core's), no extra."""
    folder = tmp_path_factory.mktemp("plugin-wheel")
    dist = folder / "dist"
    for project in (ROOT, ROOT / "plugins" / "taskshed-sqlalchemy"):
        _ok(
            _run(
                [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(project)],
                cwd=ROOT,
            )
        )
    env_dir = folder / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # Our two distributions from these wheel files (never from an index).
    wheels = [
        str(next(dist.glob("taskshed_sqlalchemy-*.whl"))),
        str(next(dist.glob("taskshed-*.whl"))),
    ]
    _ok(_run([str(python), "-m", "pip", "install", "--quiet", *wheels], cwd=folder))
    yield env_dir


def test_the_plugin_alone_brings_sqlalchemy_and_alembic_and_renders_sql(
    plugin_venv: Path, tmp_path: Path
) -> None:
    installed = _ok(
        _run(
            [str(plugin_venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
            cwd=tmp_path,
        )
    ).lower()
    assert "sqlalchemy==" in installed and "alembic==" in installed, installed
    for driver in ("asyncmy", "aiosqlite", "asyncpg"):
        assert f"{driver}==" not in installed, f"{driver} came without its extra"
    taskshed = str(plugin_venv / "bin" / "taskshed")
    for url in ("sqlite+aiosqlite:///tasks.db", "mysql://db/app", "postgresql://db/app"):
        sql = _ok(_run([taskshed, "db", "upgrade", "--sql", "--datastore", url], cwd=tmp_path))
        assert "CREATE TABLE _taskshed_data" in sql, sql
    # Without aiosqlite the default store is not reported as fine.
    listing = _run([taskshed, "plugins"], cwd=tmp_path)
    assert listing.returncode == 1, listing.stdout
    [line] = [line for line in listing.stdout.splitlines() if line.startswith("datastore:")]
    assert "sqlite+aiosqlite" in line and "ERROR" in line and "aiosqlite" in line, line
    assert "pip install 'taskshed[sqlite]'" in line, line


@pytest.fixture(scope="module")
def venv_with_drivers(plugin_venv: Path) -> Path:
    python = str(plugin_venv / "bin" / "python")
    _ok(
        _run(
            [python, "-m", "pip", "install", "--quiet", "asyncmy", "aiosqlite", "asyncpg"], cwd=ROOT
        )
    )
    return plugin_venv


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgresql", marks=pytest.mark.postgresql),
    ],
)
def test_the_alembic_command_finds_the_revisions_in_the_installed_package(
    venv_with_drivers: Path, tmp_path: Path, backend: str
) -> None:
    url = database_url(backend, tmp_path)
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = taskshed_sqlalchemy:migrations\n"
    )
    alembic = str(venv_with_drivers / "bin" / "alembic")
    taskshed = str(venv_with_drivers / "bin" / "taskshed")
    try:
        _ok(_run([alembic, "-x", f"datastore={url}", "upgrade", "head"], cwd=tmp_path))
        current = _ok(_run([taskshed, "db", "current", "--datastore", url], cwd=tmp_path))
        assert "(head)" in current, current
        _ok(_run([alembic, "-x", f"datastore={url}", "downgrade", "base"], cwd=tmp_path))
        current = _ok(_run([taskshed, "db", "current", "--datastore", url], cwd=tmp_path))
        assert "no taskshed schema" in current, current
    finally:
        if backend != "sqlite":
            asyncio.run(drop_tables(url))
