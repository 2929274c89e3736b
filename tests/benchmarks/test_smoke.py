"""The benchmark runner's smoke mode: every workload, tiny sizes, so the benchmarks cannot rot.

It runs ``benchmarks/run.py --smoke`` as a user would (a subprocess of this
interpreter), on a database and Redis prefix of this test run's own, and
checks what it measured: every case ran, every task ran once, and the
committed page, summary and charts are exactly as they were. Our side always
runs; a peer runs only if its venv under benchmarks/.venvs/ exists already
(CI has none).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from taskshed.urls import URL
from tests.support.names import run_name, unique_prefix
from tests.support.services import MYSQL_URL, REDIS_URL, require_service

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
RUNNER = BENCHMARKS / "run.py"
#: What a smoke run must never touch.
COMMITTED = [
    ROOT / "docs" / "benchmarks.md",
    BENCHMARKS / "results" / "summary.json",
    *sorted((ROOT / "docs" / "assets" / "benchmarks").glob("*")),
]
#: Workloads that run tasks (so can run one twice); "schedule" only stores them.
RUNNING = ("burst", "lag", "scale")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _digests() -> dict[str, str]:
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in COMMITTED}


def _runner_stores() -> tuple[str, ...]:
    """The stores the runner measures (benchmarks/harness/peers.py)."""
    code = "import sys; sys.path.insert(0, 'benchmarks'); from harness.peers import STORES; print(','.join(STORES))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return tuple(out.stdout.strip().split(","))


def _environment() -> dict[str, str]:
    """Our servers, and names of this run's own on them."""
    mysql, redis_url = URL.parse(MYSQL_URL), URL.parse(REDIS_URL)
    return {
        **os.environ,
        "BENCH_MYSQL_HOST": mysql.host or "127.0.0.1",
        "BENCH_MYSQL_PORT": str(mysql.port or 3306),
        "BENCH_MYSQL_USER": mysql.username or "root",
        "BENCH_MYSQL_DB": run_name("bench"),
        "BENCH_REDIS_HOST": redis_url.host or "127.0.0.1",
        "BENCH_REDIS_PORT": str(redis_url.port or 6379),
        "BENCH_REDIS_DB": (redis_url.database or "0"),
        "BENCH_REDIS_PREFIX": unique_prefix("bench"),
    }


def _clean_up(env: dict[str, str]) -> None:
    from tests.support import sql

    asyncio.run(sql.drop_database("mariadb", env["BENCH_MYSQL_DB"]))
    client = redis.Redis(
        host=env["BENCH_REDIS_HOST"],
        port=int(env["BENCH_REDIS_PORT"]),
        db=int(env["BENCH_REDIS_DB"]),
    )
    try:
        keys = list(client.scan_iter(match=f"*{env['BENCH_REDIS_PREFIX']}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_smoke_run_measures_every_workload_on_every_store(tmp_path: Path) -> None:
    stores = _runner_stores()
    for server in ("mariadb", "postgresql", "redis"):
        if server in stores:
            require_service(server)
    before = _digests()
    env = _environment()
    try:
        result = subprocess.run(
            [sys.executable, str(RUNNER), "--smoke", "--out", str(tmp_path)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=200,
        )  # fmt: skip
    finally:
        _clean_up(env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _digests() == before, "the smoke run changed the committed page, summary or charts"

    summary = json.loads((tmp_path / "summary.json").read_text())
    cases = {case["id"]: case for case in summary["cases"]}
    assert {case["store"] for case in cases.values()} == set(stores)
    assert {case["workload"] for case in cases.values()} >= {"schedule", *RUNNING}
    for store in stores:
        for workload in ("schedule", "burst", "lag"):
            assert any(c["store"] == store and c["workload"] == workload for c in cases.values()), (
                f"no {workload} case on {store}"
            )
    for case_id, case in cases.items():
        ours = case["results"]["ours"]
        assert ours["status"] == "ok", (case_id, ours)
        median, n = ours["median"], case["params"]["n"]
        if case["workload"] == "schedule":
            assert median["stored"] == n, (case_id, median)
            continue
        assert case["workload"] in RUNNING, case_id
        # Every task ran, and none twice: our workers claim atomically, across processes too.
        assert ours.get("duplicates_total") == 0, (case_id, ours)
        assert median["duplicates"] == 0, (case_id, median)
        assert median.get("ran", median.get("unique")) == n, (case_id, median)

    page = (tmp_path / "benchmarks.md").read_text()
    assert page.startswith("# Benchmarks") and "## Targets" in page
    for case in cases.values():
        assert case["title"] in page, f"{case['title']!r} is not on the page"


def test_runner_rejects_unknown_workloads() -> None:
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--smoke", "--only", "nonsense"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown name" in result.stderr


# ---------------------------------------------------------------------- second round (issues 12, 15, 18)

#: The cases the second round added to the default workloads (the million section has its own).
NEW_VARIANTS = ("live", "live-remote", "cross", "cross-redis", "cross-outage", "io-p1", "io-p2")
ALL_STORES = ("memory", "redis", "mariadb", "postgresql", "sqlite")
COMMITTED_OUTPUTS = [
    ROOT / "docs" / "benchmarks.md",
    ROOT / "benchmarks" / "results" / "summary.json",
    *sorted((ROOT / "docs" / "assets" / "benchmarks").glob("*")),
]


def _committed_digests() -> dict[str, str]:
    import hashlib

    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in COMMITTED_OUTPUTS}


def _own_names(tmp_path: Path) -> dict[str, str]:
    """Databases, a Redis prefix and a SQLite folder of this test's own."""
    tag = f"smoke{os.getpid()}"
    return {
        **os.environ,
        "BENCH_MYSQL_DB": f"taskshed_bench_{tag}",
        "BENCH_PG_DB": f"taskshed_bench_{tag}",
        "BENCH_REDIS_PREFIX": f"taskshed_bench_{tag}",
        "BENCH_SQLITE_DIR": str(tmp_path),
    }


def _drop_own_databases(env: dict[str, str]) -> None:
    import asyncio

    async def drop() -> None:
        import asyncmy
        import asyncpg

        conn = await asyncmy.connect(host="127.0.0.1", port=3306, user="root")
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(f"DROP DATABASE IF EXISTS `{env['BENCH_MYSQL_DB']}`")
        finally:
            conn.close()
        pg = await asyncpg.connect(
            host="127.0.0.1", port=5432, user="postgres", database="postgres"
        )
        try:
            await pg.execute(f'DROP DATABASE IF EXISTS "{env["BENCH_PG_DB"]}" WITH (FORCE)')
        finally:
            await pg.close()

    asyncio.run(drop())


def _smoke(tmp_path: Path, *extra: str) -> dict:
    for server in ("redis", "mariadb", "postgresql"):
        require_service(server)
    before = _committed_digests()
    env = _own_names(tmp_path)
    out = tmp_path / "out"
    # Its own session: on a timeout the drivers it started go down with it, not on running.
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), "--smoke", "--peers", "ours", "--out", str(out), *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=200)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail("the smoke run took over 200 s:\n" + stdout[-3000:])
    finally:
        _drop_own_databases(env)
    if process.returncode != 0:
        # The failing drivers' stderr (with stacks when one was killed on its time limit).
        logs = "".join(
            f"\n=== {log.name}\n{log.read_text()[-12000:]}"
            for log in sorted((out / "raw").glob("*.log"))
        )
        pytest.fail(stdout[-3000:] + stderr[-3000:] + logs)
    assert _committed_digests() == before, "a smoke run changed the committed page or charts"
    summary = json.loads((out / "summary.json").read_text())
    page = (out / "benchmarks.md").read_text()
    for case in summary["cases"]:
        assert case["title"] in page, f"{case['title']!r} is not on the page"
    return summary


def _notifier_plugin(scheme: str) -> bool:
    from taskshed.registry import default_registry

    hook = getattr(default_registry().plugin_manager.hook, "taskshed_notifier_backends", None)
    backends = [b for group in (hook() if hook else []) for b in group or []]
    return any(scheme in backend.schemes for backend in backends)


def test_smoke_run_measures_bursts_cross_process_lag_and_io_scaling(tmp_path: Path) -> None:
    summary = _smoke(tmp_path, "--variants", ",".join(NEW_VARIANTS))
    cases = {case["id"]: case for case in summary["cases"]}
    for store in ALL_STORES:
        assert f"burst/live/{store}" in cases
    shared = {"burst/live-remote", "lag/cross", "scale/io-p1", "scale/io-p2"}
    for store in ALL_STORES[1:]:
        for kind in shared:
            assert f"{kind}/{store}" in cases
    for store in ("redis", "postgresql", "mariadb"):
        assert f"lag/cross-outage/{store}" in cases
    assert "lag/cross-redis/mariadb" in cases

    redis_notifier = _notifier_plugin("redis")
    for case_id, case in cases.items():
        ours = case["results"]["ours"]
        if ours["status"] == "na" and not redis_notifier:
            # MariaDB paired with a Redis notifier needs the Redis plugin's notifier.
            assert case["params"].get("notifier") == "redis", (case_id, ours)
            continue
        assert ours["status"] == "ok", (case_id, ours)
        median, n = ours["median"], case["params"]["n"]
        # Every task ran once: claims are atomic across threads and processes, a lost
        # notice never loses a task.
        assert ours["duplicates_total"] == 0, (case_id, ours)
        assert median.get("ran", median.get("unique")) == n, (case_id, median)
        if case["variant"] == "cross-outage" and median.get("notifier"):
            assert median["cuts"] >= 1, (case_id, median)  # the notifier really was cut


def test_smoke_run_measures_a_million_section_at_smoke_size(tmp_path: Path) -> None:
    summary = _smoke(tmp_path, "--only", "million")
    assert {case["store"] for case in summary["cases"]} == set(ALL_STORES)
    for case in summary["cases"]:
        ours = case["results"]["ours"]
        assert ours["status"] == "ok", (case["id"], ours)
        median = ours["median"]
        assert median["duplicates"] == 0, (case["id"], median)
        for key in ("add_rate", "claim_ratio", "wakeup_ratio", "add_ratio", "bytes_per_task"):
            assert median.get(key, 0) > 0, (case["id"], key, median)
        details = ours.get("details", {})
        if case["store"] in ("mariadb", "postgresql", "sqlite"):
            assert details.get("explain"), (case["id"], "no EXPLAIN output")
        if case["store"] == "redis":
            assert details.get("memory_usage"), (case["id"], "no MEMORY USAGE figures")
