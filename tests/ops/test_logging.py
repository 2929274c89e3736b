"""Log options anywhere on the command line, JSON lines, and the one-line-per-run log."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from taskshed import open_datastore
from taskshed.cli.logging_options import take_logging_options
from taskshed.cli.main import build_parser
from taskshed.logs import JSONFormatter
from taskshed.models import Task
from tests.ops.stores import RunningWorker, add_tasks, run_taskshed
from tests.support.waiting import wait_until


def _take(words, monkeypatch, env=None):
    for name in ("TASKSHED_LOG_LEVEL", "TASKSHED_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    return take_logging_options(words, build_parser())


@pytest.mark.parametrize(
    "words",
    [
        ["--log-level", "debug", "worker", "jobs:X"],
        ["worker", "--log-level", "DEBUG", "jobs:X"],
        ["worker", "jobs:X", "--log-level=debug"],
    ],
)
def test_log_level_is_taken_before_or_after_the_command(words, monkeypatch):
    rest, choice = _take(words, monkeypatch)
    assert rest == ["worker", "jobs:X"]
    assert choice.level == logging.DEBUG


def test_log_options_come_from_the_environment_unless_given(monkeypatch):
    env = {"TASKSHED_LOG_LEVEL": "warning", "TASKSHED_LOG_FORMAT": "json"}
    _, choice = _take(["plugins"], monkeypatch, env)
    assert (choice.level, choice.format) == (logging.WARNING, "json")
    _, choice = _take(["plugins", "--log-level", "ERROR"], monkeypatch, env)
    assert choice.level == logging.ERROR


def test_words_after_a_double_dash_are_left_alone(monkeypatch):
    rest, choice = _take(["tasks", "show", "--", "--log-level"], monkeypatch)
    assert rest == ["tasks", "show", "--", "--log-level"]
    assert choice.level == logging.INFO


def test_a_bad_level_is_a_usage_error(tmp_path):
    result, _ = run_taskshed("plugins", "--log-level", "loud", cwd=tmp_path)
    assert result.returncode == 2
    assert "--log-level: log level must be one of DEBUG, INFO, WARNING, ERROR" in result.stderr
    result, _ = run_taskshed("plugins", cwd=tmp_path, env={"TASKSHED_LOG_FORMAT": "xml"})
    assert result.returncode == 2 and "TASKSHED_LOG_FORMAT" in result.stderr


def test_json_formatter_writes_the_run_fields_and_the_exception():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "taskshed.runs", logging.ERROR, __file__, 1, "task %s", ("t",), None
        )
        import sys

        record.exc_info = sys.exc_info()
    record.task_id, record.callback, record.duration = "t", "job", 0.25
    entry = json.loads(JSONFormatter().format(record))
    assert entry["message"] == "task t" and entry["level"] == "ERROR"
    assert entry["logger"] == "taskshed.runs" and entry["time"].endswith("Z")
    assert (entry["task_id"], entry["callback"], entry["duration"]) == ("t", "job", 0.25)
    assert "RuntimeError: boom" in entry["exception"]


def _run_worker(tmp_path, sqlite_url, *args, before=(), env=None):
    """A worker runs three tasks that succeed and one that fails, and is stopped."""
    tasks = [Task(callback="job", task_id=f"ok-{i}") for i in range(3)]
    tasks.append(Task(callback="bad", task_id="broken"))
    with RunningWorker(tmp_path, "--datastore", sqlite_url, *args, before=before, env=env) as w:
        w.wait_until_up()
        asyncio.run(add_tasks(sqlite_url, *tasks))
        w.wait_for_line("broken")
        # The successes' outcomes are recorded too (and so logged) before the worker stops.
        asyncio.run(_wait_gone(sqlite_url, [t.task_id for t in tasks[:3]]))
    return w


async def _wait_gone(url, task_ids):
    store = open_datastore(url)
    await store.start()

    async def gone():
        return not await store.fetch_tasks(task_ids)

    try:
        await wait_until(gone, timeout=30, what="the runs to be recorded")
    finally:
        await store.shutdown()


@pytest.mark.slow
def test_json_log_lines_parse_and_carry_the_run_fields(tmp_path, sqlite_url):
    worker = _run_worker(
        tmp_path, sqlite_url, "--log-format", "json", env={"TASKSHED_LOG_LEVEL": "INFO"}
    )
    assert worker.proc.returncode == 0, worker.output
    entries = [json.loads(line) for line in worker.lines]  # every line is one JSON object
    runs = [e for e in entries if e["logger"] == "taskshed.runs"]
    succeeded = sorted(e["task_id"] for e in runs if e.get("outcome") == "succeeded")
    assert succeeded == ["ok-0", "ok-1", "ok-2"]
    for entry in runs:
        assert {
            "time",
            "level",
            "message",
            "task_id",
            "callback",
            "worker",
            "duration",
            "lag",
        } <= set(entry)
        assert isinstance(entry["duration"], float) and entry["duration"] >= 0
    (failure,) = [e for e in runs if e["task_id"] == "broken"]
    assert failure["level"] == "ERROR" and failure["outcome"] == "failed"
    assert "RuntimeError: boom" in failure["exception"]
    assert any("stopped" in e["message"] for e in entries)


@pytest.mark.slow
def test_no_run_log_keeps_successes_out_but_failures_in(tmp_path, sqlite_url):
    worker = _run_worker(tmp_path, sqlite_url, "--no-run-log")
    assert worker.proc.returncode == 0, worker.output
    assert "succeeded in" not in worker.output
    assert "task broken (bad) attempt 1 failed: RuntimeError: boom" in worker.output


@pytest.mark.slow
def test_log_level_warning_before_the_command_silences_info(tmp_path, sqlite_url):
    worker = _run_worker(tmp_path, sqlite_url, before=("--log-level", "WARNING"))
    # Nothing at INFO: no start line, no run lines; the failure still shows.
    assert " INFO " not in worker.output
    assert "RuntimeError: boom" in worker.output


def test_a_reader_that_goes_away_ends_the_command_quietly(capfd):
    from taskshed.cli.output import BROKEN_PIPE_STATUS, run_quietly

    def write_to_a_closed_pipe() -> int:
        raise BrokenPipeError(32, "Broken pipe")

    assert run_quietly(write_to_a_closed_pipe) == BROKEN_PIPE_STATUS
    assert run_quietly(lambda: 0) == 0
