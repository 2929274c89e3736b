"""`taskshed tasks ...` and `taskshed workers` on every store, run as the command runs them."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import pytest

import taskshed.cli.session
from taskshed.cli import main as cli_main
from taskshed.listing import TaskQuery
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.worker_info import WorkerInfo
from tests.ops.stores import run_taskshed

LOCAL_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")


class Shell:
    """Runs ``taskshed ...`` in this process against one store (memory needs that)."""

    def __init__(self, ops_store, capsys, monkeypatch):
        self.url = ops_store.url
        self.capsys = capsys
        self.store = ops_store.open()
        monkeypatch.setattr(cli_main, "configure_logging", lambda *a, **k: None)
        if ops_store.kind == "memory":
            # One store for the whole test: the command's and the test's.
            monkeypatch.setattr(taskshed.cli.session, "store_from_args", lambda args: self.store)

    def __call__(self, *words: str) -> tuple[int, str]:
        self.capsys.readouterr()
        status = cli_main.main([*words, "--datastore", self.url])
        captured = self.capsys.readouterr()
        return status, captured.out + captured.err

    def run(self, coro_fn):
        async def go():
            await self.store.start()
            try:
                return await coro_fn(self.store)
            finally:
                if not self.url.startswith("memory"):
                    await self.store.shutdown()

        return asyncio.run(go())


@pytest.fixture
def shell(ops_store, capsys, monkeypatch):
    return Shell(ops_store, capsys, monkeypatch)


def _seed(shell):
    now = utcnow()
    tasks = [
        Task(callback="job", task_id="g-1", group_id="g", run_at=now + timedelta(minutes=1),
             kwargs={"n": 1, "nested": {"deep": [1, 2]}}),
        Task(callback="job", task_id="g-2", group_id="g", run_at=now + timedelta(minutes=2)),
        Task(callback="job", task_id="g-3", group_id="g", run_at=now + timedelta(minutes=3),
             paused=True),
        Task(callback="other", task_id="every", run_type="recurring",
             interval=timedelta(minutes=5), run_at=now + timedelta(hours=2)),
        Task(callback="job", task_id="broken", run_at=now - timedelta(hours=1),
             failed_at=now - timedelta(minutes=59), attempts=3, last_error="RuntimeError: boom"),
    ]  # fmt: skip

    async def add(store):
        await store.add_tasks(tasks)

    shell.run(add)
    return tasks


def _fetch(shell, *ids):
    async def fetch(store):
        return {t.task_id: t for t in await store.fetch_tasks(ids)}

    return shell.run(fetch)


def test_list_shows_a_table_in_local_time_with_filters_and_pages(shell):
    _seed(shell)
    status, out = shell("tasks", "list")
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "CALLBACK", "GROUP", "STATE", "RUN", "AT", "SCHEDULE",
                                "ATTEMPTS", "CLAIMED", "BY"]  # fmt: skip
    ids = [line.split()[0] for line in lines[1:6]]
    assert ids == ["broken", "g-1", "g-2", "g-3", "every"]  # by run_at
    assert LOCAL_TIME.search(lines[1]) and "every 5 min" in out
    assert "failed" in lines[1] and "paused" in lines[4]

    assert _ids(shell("tasks", "list", "--group", "g")) == ["g-1", "g-2", "g-3"]
    assert _ids(shell("tasks", "list", "--paused")) == ["g-3"]
    assert _ids(shell("tasks", "list", "--failed")) == ["broken"]
    assert _ids(shell("tasks", "list", "--state", "scheduled", "--callback", "job")) == [
        "g-1",
        "g-2",
    ]
    assert _ids(shell("tasks", "list", "--due-before", "+90s", "--due-after=-10m")) == ["g-1"]

    status, out = shell("tasks", "list", "--limit", "2")
    assert _ids((status, out)) == ["broken", "g-1"]
    cursor = re.search(r"next page: --after (\S+)", out).group(1)
    status, out = shell("tasks", "list", "--limit", "10", "--after", cursor)
    assert _ids((status, out)) == ["g-2", "g-3", "every"] and "the last page" in out


def _ids(result):
    status, out = result
    assert status == 0, out
    rows = out.split("\n\n")[0].splitlines()[1:]
    return [row.split()[0] for row in rows if row.strip() and not row.startswith("no tasks")]


def test_list_json_has_every_field_and_the_cursor(shell):
    _seed(shell)
    status, out = shell("tasks", "list", "--limit", "1", "--json")
    assert status == 0, out
    document = json.loads(out)
    (task,) = document["tasks"]
    assert task["task_id"] == "broken" and task["state"] == "failed"
    assert task["last_error"] == "RuntimeError: boom" and task["attempts"] == 3
    assert document["next_cursor"]


def test_show_prints_every_field_pretty_kwargs_and_the_claim_holder(shell):
    _seed(shell)

    async def claim(store):
        now = utcnow()

        from taskshed.models import TaskExecutionTime

        await store.update_execution_times([TaskExecutionTime(task_id="g-1", run_at=now)])
        return await store.acquire_tasks(
            worker_id="ops-worker-1", now=now, lease_until=now + timedelta(minutes=1), limit=1
        )

    assert [c.task_id for c in shell.run(claim)] == ["g-1"]
    status, out = shell("tasks", "show", "g-1")
    assert status == 0, out
    assert "state:" in out and "claimed" in out
    assert "held by ops-worker-1" in out and "not registered as alive" in out
    assert '"deep": [\n' in out  # kwargs pretty-printed
    for label in ("callback:", "group:", "run at:", "schedule:", "attempts:", "last error:"):
        assert label in out
    status, out = shell("tasks", "show", "broken", "nope")
    assert status == 1 and "RuntimeError: boom" in out and "not found: nope" in out


def test_pause_resume_say_what_changed_and_what_was_not_found(shell):
    _seed(shell)
    status, out = shell("tasks", "pause", "g-1", "g-3", "broken", "nope")
    assert status == 1
    assert "paused (1): g-1" in out and "already paused (1): g-3" in out
    assert "failed, left as they are" in out and "not found (1): nope" in out
    found = _fetch(shell, "g-1", "broken")
    assert found["g-1"].paused and not found["broken"].paused

    status, out = shell("tasks", "resume", "--group", "g")
    assert status == 0 and "resumed 2 task(s)" in out, out
    assert not any(t.paused for t in _fetch(shell, "g-1", "g-2", "g-3").values())


def test_remove_asks_unless_yes_and_reports_what_it_removed(shell):
    _seed(shell)
    status, out = shell("tasks", "remove", "g-1")
    assert status == 1 and "pass --yes" in out
    assert "g-1" in _fetch(shell, "g-1")
    status, out = shell("tasks", "remove", "g-1", "nope", "--yes")
    assert status == 1 and "removed (1): g-1" in out and "not found (1): nope" in out
    assert _fetch(shell, "g-1") == {}
    status, out = shell("tasks", "remove", "--group", "g", "--yes")
    assert status == 0 and "removed 2 task(s)" in out, out

    async def count(store):
        return await store.count_tasks(TaskQuery(group_id="g"))

    assert shell.run(count) == 0


def test_run_now_and_retry(shell):
    _seed(shell)
    before = utcnow()
    status, out = shell("tasks", "run-now", "g-2", "broken", "nope")
    assert status == 1
    assert "due now (1): g-2" in out and "failed, not moved" in out and "not found (1): nope" in out
    assert _fetch(shell, "g-2")["g-2"].run_at <= before + timedelta(seconds=5)

    status, out = shell("tasks", "retry", "broken", "g-1")
    assert status == 0, out
    assert (
        "re-queued, due now (1): broken" in out and "not failed, left as they are (1): g-1" in out
    )
    retried = _fetch(shell, "broken")["broken"]
    assert retried.failed_at is None and retried.attempts == 0


def test_workers_lists_live_workers_what_they_hold_and_unserved_callbacks(shell):
    _seed(shell)

    async def register(store):
        now = await store.current_time()
        await store.register_worker(
            WorkerInfo(
                worker_id="ops-w1",
                host="box",
                pid=42,
                started_at=now - timedelta(minutes=5),
                heartbeat_at=now,
                expires_at=now + timedelta(minutes=1),
                running=1,
                held=1,
                callbacks=("job",),
                kind="event",
            )
        )
        await store.register_worker(
            WorkerInfo(
                worker_id="ops-gone",
                host="box",
                pid=43,
                started_at=now - timedelta(hours=1),
                heartbeat_at=now - timedelta(minutes=2),
                expires_at=now - timedelta(minutes=1),
                callbacks=("other",),
            )
        )
        from taskshed.models import TaskExecutionTime

        await store.update_execution_times([TaskExecutionTime(task_id="g-2", run_at=now)])
        await store.acquire_tasks(
            worker_id="ops-w1", now=now, lease_until=now + timedelta(minutes=1), limit=1,
            callbacks=["job"],
        )  # fmt: skip

    shell.run(register)
    status, out = shell("workers")
    assert status == 0, out
    assert "ops-w1" in out and "ops-gone" not in out and "5 min" in out
    assert re.search(r"ops-w1 holds: g-2 \(job, due ", out)
    assert "WARNING: no live worker serves callback 'other': 1 task(s)" in out
    assert "'job'" not in out.split("WARNING", 1)[-1]

    status, out = shell("workers", "--json")
    document = json.loads(out)
    assert [w["worker_id"] for w in document["workers"]] == ["ops-w1"]
    assert document["workers"][0]["holds"] == ["g-2"]
    assert document["unserved_callbacks"] == {"other": {"tasks": 1, "due": 0}}


def test_piping_a_listing_into_head_ends_quietly(tmp_path, sqlite_url):
    async def seed():
        from taskshed import open_datastore

        store = open_datastore(sqlite_url)
        await store.start()
        await store.add_tasks(Task(callback="job", task_id=f"t-{i:04d}") for i in range(600))
        await store.shutdown()

    asyncio.run(seed())
    import subprocess
    import sys

    pipeline = subprocess.run(
        f"{sys.executable} -m taskshed.cli.main tasks list --limit 600 "
        f"--datastore {sqlite_url} | head -1",
        shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert pipeline.stdout.startswith("ID")
    assert "Traceback" not in pipeline.stderr and "BrokenPipeError" not in pipeline.stderr
    result, _ = run_taskshed("tasks", "list", "--datastore", sqlite_url, cwd=tmp_path)
    assert result.returncode == 0
