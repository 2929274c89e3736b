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
import signal
import subprocess
import sys
import threading
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
from tests.resilience.stores import SQL_DATABASE, require_plugin
from tests.resilience.tally import Recorder
from tests.support.names import run_name
from tests.support.ports import free_port, port_open
from tests.support.redis_server import RedisServer
from tests.support.services import require_service, service_address
from tests.support.tls import make_certificates

ROOT = Path(__file__).resolve().parents[2]
RIGHT = "Right-Pw-7Kq2"
WRONG = "Wr0ng-S3cret%Pw/x@y"  # with characters that must be URL-encoded
PW_USER = run_name("pw")


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
    lines: list[str] = []
    reported = threading.Event()

    def read() -> None:
        assert worker.stdout is not None
        for line in worker.stdout:
            lines.append(line)
            # Reported the way docs/operating.md says: a worker that can't use its
            # store at start stops with one "taskshed: error: can't ..." line; one
            # that loses it later logs "datastore error" per retry. A traceback
            # alone is no report.
            if any(
                said in line
                for said in (
                    "taskshed: error: can't use the datastore",
                    "taskshed: error: can't reach the datastore",
                    "datastore not reachable",
                    "datastore error",
                )
            ):
                reported.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        reported.wait(60)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        reader.join(10)
    output = "".join(lines)
    assert reported.is_set(), f"taskshed worker never reported the failing store:\n{output[-2000:]}"
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
    from tests.support import sql

    await sql.create_database("mariadb", SQL_DATABASE)
    await sql.create_login("mariadb", PW_USER, SQL_DATABASE, password=RIGHT)
    host, port = service_address("mariadb")
    try:
        url = _url_with(f"mysql+asyncmy://{PW_USER}:PASSWORD@{host}:{port}/{SQL_DATABASE}", WRONG)
        await _check(
            url,
            tmp_path,
            caplog,
            tally,
            "mariadb",
            "wrong password for a MariaDB user that has one",
        )
    finally:
        await sql.drop_login("mariadb", PW_USER)


async def test_postgresql_password_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tally: Recorder
) -> None:
    """The local server trusts 127.0.0.1 (any password is accepted), so the failure is a missing database."""
    require_service("postgresql")
    require_plugin("postgresql")
    host, port = service_address("postgresql")
    missing_db = run_name("nodb")
    url = _url_with(f"postgresql+asyncpg://postgres:PASSWORD@{host}:{port}/{missing_db}", WRONG)
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
    server = RedisServer(tmp_path / "pw-redis", "--requirepass", RIGHT)
    server.start()
    try:
        url = _url_with(f"redis://:PASSWORD@127.0.0.1:{server.port}/0?prefix=pw", WRONG)
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
            _url_with(f"redis://:PASSWORD@127.0.0.1:{server.port}/0?prefix=pw", RIGHT)
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


async def test_redis_over_tls(tmp_path: Path, tally: Recorder) -> None:
    """rediss:// against the test's own TLS redis-server: works with the CA, fails closed without."""
    require_plugin("redis")
    certs = make_certificates(tmp_path / "tls")
    tls_port = free_port()
    server = RedisServer(
        tmp_path / "tls-redis",
        "--tls-port", str(tls_port), "--tls-cert-file", str(certs["server.crt"]),
        "--tls-key-file", str(certs["server.key"]), "--tls-ca-cert-file", str(certs["ca.crt"]),
        "--tls-auth-clients", "no",
        ready=lambda: port_open(tls_port),
    )  # fmt: skip
    server.start()  # a redis-server built without TLS fails here, never skips
    try:
        good = f"rediss://127.0.0.1:{tls_port}/0?prefix=tls&ssl_ca_certs={certs['ca.crt']}"
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
            "plain redis:// to the TLS port": f"redis://127.0.0.1:{tls_port}/0?prefix=tls",
            "rediss:// without the private CA": f"rediss://127.0.0.1:{tls_port}/0?prefix=tls",
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
    "kind, option",
    [
        ("mariadb", f"ssl_ca={SYSTEM_CAS}"),
        ("mariadb", "ssl=true"),
        ("postgresql", "ssl=require"),
    ],
    ids=["mariadb-ssl_ca", "mariadb-ssl=true", "postgresql-ssl=require"],
)
async def test_sql_tls_request_fails_closed_when_the_server_has_no_tls(
    kind: str, option: str, tally: Recorder
) -> None:
    """The local MariaDB (have_ssl=DISABLED) and PostgreSQL (ssl=off) have no TLS.

    Asking for TLS must then fail with a typed error, never fall back to
    plaintext. (A server with TLS was not available here to show the
    successful case; the Redis test above shows it for rediss://.)
    """
    require_service(kind)
    require_plugin(kind)
    from tests.support import sql

    # The server's own database: the request must fail before any database is looked at.
    url = sql.server_url(kind) + "?" + option
    store = open_datastore(url)
    error: BaseException | None = None
    try:
        await asyncio.wait_for(store.start(), 30)
        await store.fetch_tasks(["x"])
    except Exception as exc:
        error = exc
    finally:
        await store.shutdown()
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
    import sqlalchemy as sa
    from taskshed_sqlalchemy.store import SQLAlchemyDataStore

    certs = make_certificates(tmp_path / "tls")
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
    import sqlalchemy as sa
    from taskshed_sqlalchemy.store import SQLAlchemyDataStore

    certs = make_certificates(tmp_path / "tls")
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
