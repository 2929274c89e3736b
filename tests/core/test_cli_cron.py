"""``taskshed cron``: the preview users run before deploying a schedule."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from taskshed.cli.main import main


def cron(capsys, *args: str) -> tuple[int, list[str], str]:
    """Run ``taskshed cron ARGS`` in-process: exit code, stdout lines, stderr."""
    try:
        code = main(["cron", *args])
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_prints_the_next_fire_times_in_the_zone_across_a_gap(capsys):
    code, lines, err = cron(
        capsys,
        "*/30 * * * *",
        "--timezone",
        "Europe/Berlin",
        "--after",
        "2027-03-28T01:10",
        "--count",
        "3",
    )
    assert (code, err) == (0, "")
    assert lines == [
        "2027-03-28T01:30:00+01:00",
        "2027-03-28T03:00:00+02:00",
        "2027-03-28T03:30:00+02:00",
    ]


def test_repeated_hour_runs_once(capsys):
    code, lines, _ = cron(
        capsys, "30 1 * * *", "--timezone", "America/New_York", "--after", "2027-11-06T12:00"
    )
    assert code == 0
    assert lines[:2] == ["2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"]


def test_an_after_with_an_offset_is_that_instant(capsys):
    # 01:10 UTC is 03:10 CEST: the next half hour is 03:30 there.
    code, lines, _ = cron(
        capsys,
        "*/30 * * * *",
        "--timezone",
        "Europe/Berlin",
        "--after",
        "2027-03-28T01:10Z",
        "--count",
        "1",
    )
    assert (code, lines) == (0, ["2027-03-28T03:30:00+02:00"])


def test_defaults_are_five_times_after_now_in_utc(capsys):
    before = datetime.now(UTC)
    code, lines, _ = cron(capsys, "* * * * * *")
    assert code == 0
    assert len(lines) == 5
    times = [datetime.fromisoformat(line) for line in lines]
    assert all(at.utcoffset() == timedelta(0) for at in times)
    assert before < times[0] <= before + timedelta(seconds=2)
    assert times == sorted(times) and len(set(times)) == 5


def test_seconds_field_and_macros(capsys):
    code, lines, _ = cron(capsys, "*/20 * * * * *", "--after", "2027-01-01T00:00", "--count", "3")
    assert (code, lines) == (
        0,
        ["2027-01-01T00:00:20+00:00", "2027-01-01T00:00:40+00:00", "2027-01-01T00:01:00+00:00"],
    )
    code, lines, _ = cron(capsys, "@weekly", "--after", "2027-01-01T00:00", "--count", "1")
    assert (code, lines) == (0, ["2027-01-03T00:00:00+00:00"])


def test_every_line_is_in_the_zone_with_its_offset(capsys):
    code, lines, _ = cron(
        capsys, "0 */6 * * *", "--timezone", "Australia/Lord_Howe", "--count", "20"
    )
    assert code == 0
    zone = ZoneInfo("Australia/Lord_Howe")
    for line in lines:
        at = datetime.fromisoformat(line)
        assert at.utcoffset() == at.astimezone(zone).utcoffset()
        assert at.hour % 6 == 0 and at.minute == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["61 * * * *"], "bad minute field '61'"),
        (["0 0 15W * *"], "W (nearest weekday)"),
        (["* * *"], "expected 5 fields"),
        (["* * * * *", "--timezone", "Mars/Olympus_Mons"], "unknown time zone 'Mars/Olympus_Mons'"),
    ],
)
def test_a_bad_expression_or_zone_is_one_line_and_exit_1(capsys, args, words):
    code, lines, err = cron(capsys, *args)
    assert code == 1
    assert lines == []
    assert err.count("\n") == 1
    assert err.startswith("taskshed: error: ")
    assert words in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["* * * * *", "--count", "0"], "--count: must be at least 1"),
        (["* * * * *", "--count", "many"], "--count: 'many' is not a whole number"),
        (["* * * * *", "--count", "10001"], "--count: must be at most 10000"),
        (["* * * * *", "--after", "next tuesday"], "--after: 'next tuesday' is not an ISO 8601"),
        ([], "the following arguments are required: EXPR"),
    ],
)
def test_usage_errors_exit_2(capsys, args, words):
    code, lines, err = cron(capsys, *args)
    assert code == 2
    assert lines == []
    assert words in err


def test_no_fire_time_left_is_said_on_stderr(capsys):
    code, lines, err = cron(capsys, "0 0 1 1 *", "--after", "9998-06-01", "--count", "3")
    assert code == 0
    assert lines == ["9999-01-01T00:00:00+00:00"]
    assert "no further fire time" in err
    code, lines, err = cron(capsys, "0 0 1 1 *", "--after", "9999-06-01")
    assert (code, lines) == (1, [])
    assert "no further fire time" in err


def test_runs_as_a_command():
    result = subprocess.run(
        [sys.executable, "-m", "taskshed.cli.main", "cron", "30 2 * * *", "--timezone",
         "Europe/Berlin", "--after", "2027-03-27T12:00", "--count", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TZ": "Pacific/Auckland"},  # the host's zone plays no part
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"]


def test_the_scheduling_page_example_is_what_the_command_prints(capsys):
    page = (Path(__file__).parents[2] / "docs" / "scheduling.md").read_text()
    block = page.split("```console\n$ taskshed cron ", 1)[1].split("```", 1)[0]
    command, *expected = block.strip().splitlines()
    code, lines, _ = cron(capsys, *shlex.split(command))
    assert (code, lines) == (0, expected)
