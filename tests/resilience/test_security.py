"""Passwords stay out of sight; TLS is used when asked for and never silently dropped.

A wrong (or any) password is put in a datastore URL and everything a user or
an operator could see is captured: ``repr``/``str`` of the store, the full
exception chain (messages and tracebacks), every log record at DEBUG from
every logger while a worker retries against the store, and the output of
``taskshed plugins`` and ``taskshed worker`` run with that URL. None may hold
the password, in plain or URL-encoded form. (Injection through ids and group
ids is property-tested in test_bad_input.py on every store.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from taskshed.config import open_datastore
from taskshed.errors import DataStoreError, TaskshedError
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker
from tests.resilience.mariadb_server import OwnMariaDB
from tests.resilience.pg_server import OwnPostgres
from tests.resilience.redis_server import OwnRedis, free_port
from tests.resilience.stores import SQL_DATABASE, require_plugin
from tests.resilience.tally import Recorder
from tests.services import require_service

ROOT = Path(__file__).resolve().parents[2]
RIGHT = "Right-Pw-7Kq2"
WRONG = "Wr0ng-S3cret%Pw/x@y"  # with characters that must be URL-encoded
PW_USER = "tsres_pw"


def _url_with(template: str, password: str) -> str:
    return template.replace("PASSWORD", quote(password, safe=""))


def _leaks(text: str, *passwords: str) -> list[str]:
    found = []
    for password in passwords:
        for form in {password, quote(password, safe=""), quote(password)}:
            if form in text:
                found.append(form)
    return found


async def _capture_everything(url: str, caplog: pytest.LogCaptureFixture) -> tuple[str, int]:
    """Everything visible from using ``url`` in-process: reprs, exceptions, logs."""
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)  # every logger: drivers, SQLAlchemy, redis-py, taskshed
    store = open_datastore(url)
    seen += [repr(store), str(store)]
    for call in (
        store.start(),
        store.add_tasks([Task(callback="cb", run_at=utcnow(), task_id="t")]),
    ):
        try:
            await asyncio.wait_for(call, 30)
        except Exception as exc:
            seen.append("".join(traceback.format_exception(exc)))
            seen += [repr(exc), str(exc)]
            cause = exc.__cause__ or exc.__context__
            while cause is not None:
                seen += [repr(cause), str(cause), repr(getattr(cause, "args", ""))]
                cause = cause.__cause__ or cause.__context__
    worker = EventDrivenWorker({}, store, max_sleep=timedelta(milliseconds=50))
    await worker.start()
    deadline = time.monotonic() + 20
    while not any("datastore error" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the worker never reported the failing store"
        await asyncio.sleep(0.05)
    await worker.shutdown()
    await store.shutdown()
    seen.append(repr(store))
    for record in caplog.records:
        seen.append(record.getMessage())
        if record.exc_info:
            seen.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(seen), len(caplog.records)


def _cli_output(url: str, tmp_path: Path) -> str:
    """``taskshed plugins`` and ``taskshed worker`` run with ``url`` (from the environment)."""
    env = {**os.environ, "TASKSHED_DATASTORE": url}
    command = [sys.executable, "-m", "taskshed.cli.main", "--log-level", "DEBUG"]
    out = subprocess.run(
        [*command, "plugins"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    text = out.stdout + out.stderr
    worker = subprocess.Popen(
        [*command, "worker", "tests.resilience.cli_callbacks:CALLBACKS", "--polling", "0.2"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        output, _ = worker.communicate(timeout=4)
    except subprocess.TimeoutExpired:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert "datastore error" in output or "Traceback" in output or worker.returncode, output[-2000:]
    return text + output


async def _check(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, tally: Recorder, kind: str, how: str
) -> None:
    seen, records = await _capture_everything(url, caplog)
    cli = await asyncio.to_thread(_cli_output, url, tmp_path)
    leaks = _leaks(seen + cli, WRONG, RIGHT)
    assert not leaks, f"password visible: {leaks}"
    tally.add(
        "security",
        f"password in the datastore URL, {how}: repr/str of the store, exception chains and tracebacks, "
        "all log records at DEBUG (drivers included) while a worker retried, `taskshed plugins` and `taskshed worker` output",
        f"{len(seen) + len(cli)} characters from {records} log records and 2 commands: password (plain or URL-encoded) never present",
        store=kind,
    )


async def test_mariadb_wrong_password_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tally: Recorder
) -> None:
    require_service("mariadb")
    require_plugin("mariadb")
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine
    from taskshed_sqlalchemy.urls import engine_spec

    from tests.services import MYSQL_URL

    admin = create_async_engine(engine_spec(MYSQL_URL).url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            for host in ("%", "localhost", "127.0.0.1"):
                await conn.execute(
                    sa.text(
                        f"CREATE USER IF NOT EXISTS '{PW_USER}'@'{host}' IDENTIFIED BY '{RIGHT}'"
                    )
                )
                await conn.execute(
                    sa.text(f"GRANT ALL ON {SQL_DATABASE}.* TO '{PW_USER}'@'{host}'")
                )
        url = _url_with(f"mysql+asyncmy://{PW_USER}:PASSWORD@127.0.0.1:3306/{SQL_DATABASE}", WRONG)
        await _check(
            url,
            tmp_path,
            caplog,
            tally,
            "mariadb",
            "wrong password for a MariaDB user that has one",
        )
    finally:
        async with admin.connect() as conn:
            for host in ("%", "localhost", "127.0.0.1"):
                await conn.execute(sa.text(f"DROP USER IF EXISTS '{PW_USER}'@'{host}'"))
        await admin.dispose()


async def test_postgresql_password_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tally: Recorder
) -> None:
    """The local server trusts 127.0.0.1 (any password is accepted), so the failure is a missing database."""
    require_service("postgresql")
    require_plugin("postgresql")
    url = _url_with(
        "postgresql+asyncpg://postgres:PASSWORD@127.0.0.1:5432/tsres_no_such_database", WRONG
    )
    await _check(
        url,
        tmp_path,
        caplog,
        tally,
        "postgresql",
        "connection refused by the server (missing database; the local server trusts 127.0.0.1, so it checks no password)",
    )


async def test_redis_wrong_password_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tally: Recorder
) -> None:
    require_plugin("redis")
    server = OwnRedis(tmp_path / "pw-redis", extra=("--requirepass", RIGHT))
    server.start()
    try:
        url = _url_with(f"redis://:PASSWORD@127.0.0.1:{server.port}/0?prefix=tsres-pw", WRONG)
        await _check(
            url,
            tmp_path,
            caplog,
            tally,
            "redis",
            "wrong password for the test's own redis-server (--requirepass)",
        )
        # And the right one works.
        store = open_datastore(
            _url_with(f"redis://:PASSWORD@127.0.0.1:{server.port}/0?prefix=tsres-pw", RIGHT)
        )
        await store.start()
        await store.add_tasks([Task(callback="cb", run_at=utcnow(), task_id="ok")])
        assert [t.task_id for t in await store.fetch_tasks(["ok"])] == ["ok"]
        assert RIGHT not in repr(store)
        await store.shutdown()
    finally:
        server.close()


async def test_unreachable_server_with_password_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tally: Recorder
) -> None:
    require_plugin("mariadb")
    port = free_port()
    url = _url_with(f"mysql+asyncmy://root:PASSWORD@127.0.0.1:{port}/x", WRONG)
    await _check(url, tmp_path, caplog, tally, "mariadb", "nothing listening on the port")


# ---------------------------------------------------------------------- TLS


def _make_certificates(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        name: folder / name
        for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt", "san.ext")
    }
    paths["san.ext"].write_text("subjectAltName=IP:127.0.0.1\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(paths["ca.key"]),
        "-out",
        str(paths["ca.crt"]),
        "-days",
        "1",
        "-subj",
        "/CN=taskshed-resilience-ca",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(paths["server.key"]),
        "-out",
        str(paths["server.csr"]),
        "-subj",
        "/CN=127.0.0.1",
    )
    run("x509", "-req", "-in", str(paths["server.csr"]), "-CA", str(paths["ca.crt"]),
        "-CAkey", str(paths["ca.key"]), "-CAcreateserial", "-out", str(paths["server.crt"]),
        "-days", "1", "-extfile", str(paths["san.ext"]))  # fmt: skip
    return paths


async def test_redis_over_tls(tmp_path: Path, tally: Recorder) -> None:
    """rediss:// against the test's own TLS redis-server: works with the CA, fails closed without."""
    require_plugin("redis")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    certs = _make_certificates(tmp_path / "tls")
    tls_port = free_port()
    server = OwnRedis(
        tmp_path / "tls-redis",
        extra=(
            "--tls-port", str(tls_port), "--tls-cert-file", str(certs["server.crt"]),
            "--tls-key-file", str(certs["server.key"]), "--tls-ca-cert-file", str(certs["ca.crt"]),
            "--tls-auth-clients", "no",
        ),
    )  # fmt: skip
    try:
        server.start()
    except RuntimeError as exc:
        pytest.skip(f"this redis-server can't serve TLS: {exc}")
    try:
        good = f"rediss://127.0.0.1:{tls_port}/0?prefix=tsres-tls&ssl_ca_certs={certs['ca.crt']}"
        store = open_datastore(good)
        await store.start()
        ran = asyncio.Event()

        async def cb() -> None:
            ran.set()

        worker = EventDrivenWorker({"cb": cb}, store, max_sleep=timedelta(milliseconds=50))
        await worker.start()
        await store.add_tasks([Task(callback="cb", run_at=utcnow(), task_id="over-tls")])
        await asyncio.wait_for(ran.wait(), 10)
        await worker.shutdown()
        await store.shutdown()
        failures = {}
        for label, url in {
            "plain redis:// to the TLS port": f"redis://127.0.0.1:{tls_port}/0?prefix=tsres-tls",
            "rediss:// without the private CA": f"rediss://127.0.0.1:{tls_port}/0?prefix=tsres-tls",
        }.items():
            bad = open_datastore(url)
            with pytest.raises(DataStoreError) as raised:
                await asyncio.wait_for(bad.start(), 60)  # a store may connect here ...
                await asyncio.wait_for(bad.fetch_tasks(["over-tls"]), 60)  # ... or here
            failures[label] = type(raised.value.__cause__).__name__
            await bad.shutdown()
    finally:
        server.close()
    tally.add(
        "security",
        "rediss:// to the test's own redis-server with TLS (self-signed CA made by openssl)",
        "a task ran over TLS with ?ssl_ca_certs=; "
        + "; ".join(f"{label}: DataStoreError ({cause})" for label, cause in failures.items()),
        store="redis",
    )


SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"


@pytest.mark.parametrize(
    "kind, url",
    [
        ("mariadb", f"mysql+asyncmy://root@127.0.0.1:3306/{SQL_DATABASE}?ssl_ca={SYSTEM_CAS}"),
        ("mariadb", f"mysql+asyncmy://root@127.0.0.1:3306/{SQL_DATABASE}?ssl=true"),
        ("postgresql", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{SQL_DATABASE}?ssl=require"),
    ],
    ids=["mariadb-ssl_ca", "mariadb-ssl=true", "postgresql-ssl=require"],
)
async def test_sql_tls_request_fails_closed_when_the_server_has_no_tls(
    kind: str, url: str, tally: Recorder
) -> None:
    """The local MariaDB (have_ssl=DISABLED) and PostgreSQL (ssl=off) have no TLS.

    Asking for TLS must then fail with a typed error, never fall back to
    plaintext. (A server with TLS was not available here to show the
    successful case; the Redis test above shows it for rediss://.)
    """
    require_service(kind)
    require_plugin(kind)
    store = open_datastore(url)
    error: BaseException | None = None
    try:
        await asyncio.wait_for(store.start(), 30)
        await store.fetch_tasks(["x"])
    except Exception as exc:
        error = exc
    finally:
        await store.shutdown()
    option = url.split("?")[1]
    tally.add(
        "security",
        f"TLS asked for with `?{option}` against the local server, which has TLS off",
        "connected in plaintext!"
        if error is None
        else f"refused: {type(error).__name__}: {str(error)[:110]}",
        store=kind,
    )
    assert error is not None, "connected in plaintext although TLS was asked for"
    assert isinstance(error, TaskshedError), (
        f"untyped {type(error).__name__} from start() for ?{option} (BUGS.md): {error}"
    )


async def test_postgresql_wrong_password_never_shown_own_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tally: Recorder
) -> None:
    """A PostgreSQL of the test's own that checks passwords (scram-sha-256)."""
    require_plugin("postgresql")
    server = OwnPostgres(RIGHT)
    try:
        url = _url_with(
            f"postgresql+asyncpg://postgres:PASSWORD@127.0.0.1:{server.port}/postgres", WRONG
        )
        await _check(url, tmp_path, caplog, tally, "postgresql",
                     "wrong password for the test's own PostgreSQL (initdb, scram-sha-256)")  # fmt: skip
    finally:
        server.stop()


async def test_postgresql_over_tls_own_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tally: Recorder
) -> None:
    """?ssl=verify-full against the test's own PostgreSQL with TLS: encrypted and verified, or refused."""
    require_plugin("postgresql")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    import sqlalchemy as sa
    from taskshed_sqlalchemy.store import SQLAlchemyDataStore

    certs = _make_certificates(tmp_path / "tls")
    server = OwnPostgres(RIGHT, tls=certs)
    url = _url_with(
        f"postgresql+asyncpg://postgres:PASSWORD@127.0.0.1:{server.port}/postgres?ssl=verify-full",
        RIGHT,
    )
    try:
        monkeypatch.setenv("PGSSLROOTCERT", str(certs["ca.crt"]))
        store = SQLAlchemyDataStore(url, create_schema=True)
        await store.start()
        ran = asyncio.Event()

        async def cb() -> None:
            ran.set()

        worker = EventDrivenWorker({"cb": cb}, store, max_sleep=timedelta(milliseconds=50))
        await worker.start()
        await store.add_tasks([Task(callback="cb", run_at=utcnow(), task_id="over-tls")])
        await asyncio.wait_for(ran.wait(), 10)
        await worker.shutdown()
        async with store.engine.connect() as conn:
            encrypted = (
                await conn.execute(
                    sa.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                )
            ).scalar()
        await store.shutdown()
        assert encrypted is True
        # Against the system's CAs only, the server's certificate doesn't verify: refused.
        monkeypatch.setenv("PGSSLROOTCERT", SYSTEM_CAS)
        unverified = open_datastore(url)
        with pytest.raises(DataStoreError) as raised:
            await asyncio.wait_for(unverified.start(), 30)
        await unverified.shutdown()
    finally:
        server.stop()
    tally.add(
        "security",
        "`?ssl=verify-full` to the test's own PostgreSQL with TLS (certificate from a CA made for the run, PGSSLROOTCERT)",
        "a task ran over TLS (pg_stat_ssl.ssl = true for the store's connection); verified against the system CAs instead: "
        f"{type(raised.value).__name__} ({str(raised.value)[:80]})",
        store="postgresql",
    )


async def test_mariadb_over_tls_own_server(tmp_path: Path, tally: Recorder) -> None:
    """?ssl_ca= against the test's own MariaDB with TLS: encrypted and verified, or refused."""
    require_plugin("mariadb")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    import sqlalchemy as sa
    from taskshed_sqlalchemy.store import SQLAlchemyDataStore

    certs = _make_certificates(tmp_path / "tls")
    server = OwnMariaDB(tls=certs)
    try:
        server.sql("CREATE DATABASE tsres")
        base = f"mysql+asyncmy://root@127.0.0.1:{server.port}/tsres"
        store = SQLAlchemyDataStore(f"{base}?ssl_ca={certs['ca.crt']}", create_schema=True)
        await store.start()
        ran = asyncio.Event()

        async def cb() -> None:
            ran.set()

        worker = EventDrivenWorker({"cb": cb}, store, max_sleep=timedelta(milliseconds=50))
        await worker.start()
        await store.add_tasks([Task(callback="cb", run_at=utcnow(), task_id="over-tls")])
        await asyncio.wait_for(ran.wait(), 10)
        await worker.shutdown()
        async with store.engine.connect() as conn:
            cipher = (await conn.execute(sa.text("SHOW STATUS LIKE 'Ssl_cipher'"))).one()[1]
        await store.shutdown()
        assert cipher, "the store's connection is not encrypted"
        unverified = open_datastore(f"{base}?ssl_ca={SYSTEM_CAS}")
        with pytest.raises(DataStoreError) as raised:
            await asyncio.wait_for(unverified.start(), 30)
        await unverified.shutdown()
    finally:
        server.stop()
    tally.add(
        "security",
        "`?ssl_ca=` to the test's own MariaDB with TLS (certificate from a CA made for the run)",
        f"a task ran over TLS (Ssl_cipher {cipher}); verified against the system CAs instead: "
        f"{type(raised.value).__name__} ({str(raised.value)[-90:]})",
        store="mariadb",
    )
