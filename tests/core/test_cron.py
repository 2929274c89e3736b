"""Cron schedules: parsing, and fire instants across DST changes (our rules, not cronsim's).

Rules under test: a wall time skipped by a spring-forward runs once, at the first
instant after the gap (all fire times of one gap, and one exactly at its end,
share that run); a wall time that occurs twice runs once, at its first occurrence;
instants never repeat and never go backwards.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from cronsim import CronSim
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from taskshed.cron import MAX_EXPRESSION_LENGTH, CronSchedule
from taskshed.errors import InvalidTaskError

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


def local(text: str) -> datetime:
    """An ISO 8601 time with offset, e.g. ``2027-03-28T03:00+02:00``."""
    return datetime.fromisoformat(text)


def fire_times(expression: str, timezone: str, after: str, count: int) -> list[str]:
    """The next ``count`` fire times after ``after``, as ISO strings in the zone."""
    schedule = CronSchedule.parse(expression, timezone)
    instants = itertools.islice(schedule.iter_after(local(after)), count)
    return [at.astimezone(schedule.zone).isoformat() for at in instants]


# --- around real DST changes ----------------------------------------------------------

DST_TABLE = [
    # Europe/Berlin 2027-03-28: 02:00 -> 03:00 (02:00-02:59 do not exist)
    pytest.param(
        "30 2 * * *",
        "Europe/Berlin",
        "2027-03-26T12:00+01:00",
        ["2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"],
        id="berlin-spring-daily-in-gap-runs-at-gap-end",
    ),
    pytest.param(
        "*/30 * * * *",
        "Europe/Berlin",
        "2027-03-28T01:10+01:00",
        ["2027-03-28T01:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-28T03:30:00+02:00"],
        id="berlin-spring-02:00-02:30-and-03:00-are-one-run",
    ),
    pytest.param(
        "0 2 * * *",
        "Europe/Berlin",
        "2027-03-27T12:00+01:00",
        ["2027-03-28T03:00:00+02:00", "2027-03-29T02:00:00+02:00"],
        id="berlin-spring-gap-start",
    ),
    pytest.param(
        "0 3 * * *",
        "Europe/Berlin",
        "2027-03-27T12:00+01:00",
        ["2027-03-28T03:00:00+02:00", "2027-03-29T03:00:00+02:00"],
        id="berlin-spring-gap-end-is-an-ordinary-time",
    ),
    pytest.param(
        "59 1 * * *",
        "Europe/Berlin",
        "2027-03-27T12:00+01:00",
        ["2027-03-28T01:59:00+01:00", "2027-03-29T01:59:00+02:00"],
        id="berlin-spring-just-before-the-gap",
    ),
    # Europe/Berlin 2027-10-31: 03:00 -> 02:00 (02:00-02:59 happen twice)
    pytest.param(
        "30 2 * * *",
        "Europe/Berlin",
        "2027-10-29T12:00+02:00",
        ["2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"],
        id="berlin-fall-daily-in-overlap-runs-once-first-pass",
    ),
    pytest.param(
        "*/30 * * * *",
        "Europe/Berlin",
        "2027-10-31T01:10+02:00",
        [
            "2027-10-31T01:30:00+02:00",
            "2027-10-31T02:00:00+02:00",
            "2027-10-31T02:30:00+02:00",
            "2027-10-31T03:00:00+01:00",
            "2027-10-31T03:30:00+01:00",
        ],
        id="berlin-fall-half-hourly-skips-second-pass",
    ),
    pytest.param(
        "0 3 * * *",
        "Europe/Berlin",
        "2027-10-30T12:00+02:00",
        ["2027-10-31T03:00:00+01:00", "2027-11-01T03:00:00+01:00"],
        id="berlin-fall-overlap-end",
    ),
    # America/New_York 2027-03-14: 02:00 -> 03:00; 2027-11-07: 02:00 -> 01:00
    pytest.param(
        "30 2 * * *",
        "America/New_York",
        "2027-03-13T12:00-05:00",
        ["2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"],
        id="new-york-spring-daily-in-gap",
    ),
    pytest.param(
        "*/30 * * * *",
        "America/New_York",
        "2027-03-14T01:10-05:00",
        ["2027-03-14T01:30:00-05:00", "2027-03-14T03:00:00-04:00", "2027-03-14T03:30:00-04:00"],
        id="new-york-spring-half-hourly",
    ),
    pytest.param(
        "30 1 * * *",
        "America/New_York",
        "2027-11-06T12:00-04:00",
        ["2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"],
        id="new-york-fall-daily-in-overlap",
    ),
    pytest.param(
        "*/30 * * * *",
        "America/New_York",
        "2027-11-07T00:10-04:00",
        [
            "2027-11-07T00:30:00-04:00",
            "2027-11-07T01:00:00-04:00",
            "2027-11-07T01:30:00-04:00",
            "2027-11-07T02:00:00-05:00",
        ],
        id="new-york-fall-half-hourly",
    ),
    # Australia/Lord_Howe: a 30-minute DST (2027-10-03 02:00 -> 02:30, 2027-04-04 02:00 -> 01:30)
    pytest.param(
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2027-10-02T12:00+10:30",
        ["2027-10-03T02:30:00+11:00", "2027-10-04T02:15:00+11:00"],
        id="lord-howe-spring-half-hour-gap",
    ),
    pytest.param(
        "*/15 * * * *",
        "Australia/Lord_Howe",
        "2027-10-03T01:40+10:30",
        ["2027-10-03T01:45:00+10:30", "2027-10-03T02:30:00+11:00", "2027-10-03T02:45:00+11:00"],
        id="lord-howe-spring-quarter-hours-collapse",
    ),
    pytest.param(
        "*/15 * * * *",
        "Australia/Lord_Howe",
        "2027-04-04T01:10+11:00",
        [
            "2027-04-04T01:15:00+11:00",
            "2027-04-04T01:30:00+11:00",
            "2027-04-04T01:45:00+11:00",
            "2027-04-04T02:00:00+10:30",
        ],
        id="lord-howe-fall-half-hour-overlap",
    ),
    # Historical oddities
    pytest.param(
        "0 12 * * *",
        "Pacific/Apia",
        "2011-12-29T00:00-10:00",
        ["2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"],
        id="apia-2011-skipped-a-whole-day",
    ),
    pytest.param(
        "0 0 * * *",
        "America/Sao_Paulo",
        "2018-11-02T12:00-03:00",
        ["2018-11-03T00:00:00-03:00", "2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"],
        id="sao-paulo-2018-midnight-did-not-exist",
    ),
    pytest.param(
        "30 23 * * *",
        "America/Sao_Paulo",
        "2019-02-15T12:00-02:00",
        ["2019-02-15T23:30:00-02:00", "2019-02-16T23:30:00-02:00", "2019-02-17T23:30:00-03:00"],
        id="sao-paulo-2019-repeated-hour-before-midnight",
    ),
    pytest.param(
        "*/10 * * * * *",
        "Europe/Amsterdam",
        "1937-06-30T23:59:45+01:19:32",
        [
            "1937-06-30T23:59:50+01:19:32",
            "1937-07-01T00:00:28+01:20",
            "1937-07-01T00:00:30+01:20",
        ],
        id="amsterdam-1937-28-second-gap-with-seconds-field",
    ),
    # A seconds field across the 2027 Berlin changes
    pytest.param(
        "*/20 * * * * *",
        "Europe/Berlin",
        "2027-03-28T01:59:30+01:00",
        [
            "2027-03-28T01:59:40+01:00",
            "2027-03-28T03:00:00+02:00",
            "2027-03-28T03:00:20+02:00",
            "2027-03-28T03:00:40+02:00",
        ],
        id="berlin-spring-every-20-seconds",
    ),
    pytest.param(
        "* * * * * *",
        "Europe/Berlin",
        "2027-03-28T01:59:57+01:00",
        [
            "2027-03-28T01:59:58+01:00",
            "2027-03-28T01:59:59+01:00",
            "2027-03-28T03:00:00+02:00",
            "2027-03-28T03:00:01+02:00",
        ],
        id="berlin-spring-every-second",
    ),
    pytest.param(
        "* * * * * *",
        "Europe/Berlin",
        "2027-10-31T02:59:58+02:00",
        [
            "2027-10-31T02:59:59+02:00",
            "2027-10-31T03:00:00+01:00",
            "2027-10-31T03:00:01+01:00",
        ],
        id="berlin-fall-every-second",
    ),
    pytest.param(
        "15 30 2 * * *",
        "Europe/Berlin",
        "2027-03-27T12:00+01:00",
        ["2027-03-28T03:00:00+02:00", "2027-03-29T02:30:15+02:00"],
        id="berlin-spring-seconds-field-in-gap",
    ),
    pytest.param(
        "30 59 2 * * *",
        "Europe/Berlin",
        "2027-10-30T12:00+02:00",
        ["2027-10-31T02:59:30+02:00", "2027-11-01T02:59:30+01:00"],
        id="berlin-fall-seconds-field-in-overlap",
    ),
]


@pytest.mark.parametrize(("expression", "timezone", "after", "expected"), DST_TABLE)
def test_fire_times_around_dst_changes(expression, timezone, after, expected):
    assert fire_times(expression, timezone, after, len(expected)) == expected


def test_next_after_in_the_second_pass_does_not_return_the_first_pass_again():
    schedule = CronSchedule.parse("*/15 * * * *", "Europe/Berlin")
    second_pass = local("2027-10-31T02:20+01:00")
    assert schedule.next_after(second_pass) == local("2027-10-31T03:00+01:00")
    # Each fire time of the first pass is followed by the next one of the first pass...
    assert schedule.next_after(local("2027-10-31T02:30+02:00")) == local("2027-10-31T02:45+02:00")
    # ...and the last one by the first wall time after the repeated hour.
    assert schedule.next_after(local("2027-10-31T02:45+02:00")) == local("2027-10-31T03:00+01:00")


def test_next_after_inside_a_gap_collapse_returns_the_collapsed_run_once():
    schedule = CronSchedule.parse("*/30 * * * *", "Europe/Berlin")
    gap_run = local("2027-03-28T03:00+02:00")
    assert schedule.next_after(local("2027-03-28T01:45+01:00")) == gap_run
    assert schedule.next_after(gap_run) == local("2027-03-28T03:30+02:00")


def test_a_gap_is_searched_once_however_many_fire_times_it_holds(monkeypatch):
    searches = []
    search = CronSchedule._gap_end

    def counting(self, wall):
        searches.append(wall)
        return search(self, wall)

    monkeypatch.setattr(CronSchedule, "_gap_end", counting)
    schedule = CronSchedule("* * * * * *", "Pacific/Apia")  # a whole day skipped, by the second
    instants = itertools.islice(schedule.iter_after(local("2011-12-29T23:59:59-10:00")), 2)
    assert [at.astimezone(schedule.zone).isoformat() for at in instants] == [
        "2011-12-31T00:00:00+14:00",
        "2011-12-31T00:00:01+14:00",
    ]
    assert len(searches) == 1


def test_next_after_is_strictly_after_to_the_microsecond():
    schedule = CronSchedule.parse("30 2 * * *", "UTC")
    fire = datetime(2027, 5, 1, 2, 30, tzinfo=UTC)
    assert schedule.next_after(fire - timedelta(microseconds=1)) == fire
    assert schedule.next_after(fire) == fire + timedelta(days=1)
    assert schedule.next_after(fire + timedelta(microseconds=1)) == fire + timedelta(days=1)


def test_fire_times_are_aware_utc_whatever_the_input_offset():
    schedule = CronSchedule.parse("0 9 * * *", "Asia/Kolkata")
    after = local("2027-04-30T12:00-07:00")  # 00:30 on May 1 in Kolkata
    result = schedule.next_after(after)
    assert result is not None and result.tzinfo is UTC
    assert result == local("2027-05-01T09:00+05:30")


@pytest.fixture
def new_york_local_time(monkeypatch):
    """The process's local time zone is New York for the test."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset is POSIX only")
def test_a_naive_instant_is_local_time(new_york_local_time):
    schedule = CronSchedule.parse("0 12 * * *", "UTC")
    # 08:00 in New York (EDT) is 12:00 UTC: the fire time that day is strictly after it.
    naive = datetime(2027, 6, 1, 8, 0)
    assert os.environ["TZ"] == "America/New_York"
    assert schedule.next_after(naive) == datetime(2027, 6, 2, 12, 0, tzinfo=UTC)
    assert schedule.next_after(naive - SECOND) == datetime(2027, 6, 1, 12, 0, tzinfo=UTC)


def test_default_zone_is_utc():
    schedule = CronSchedule.parse("0 0 * * *")
    assert schedule.timezone is None
    assert schedule.zone.key == "UTC"
    after = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)
    assert schedule.next_after(after) == datetime(2027, 3, 29, tzinfo=UTC)


def test_no_fire_time_before_the_end_of_the_calendar_is_none():
    schedule = CronSchedule.parse("0 0 1 1 *", "Pacific/Kiritimati")
    assert schedule.next_after(datetime(9999, 6, 1, tzinfo=UTC)) is None
    assert list(schedule.iter_after(datetime(9999, 6, 1, tzinfo=UTC))) == []


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("macro", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_macros_fire_like_their_five_field_forms(macro, equivalent):
    after = datetime(2027, 2, 3, 4, 5, tzinfo=UTC)
    expected = list(itertools.islice(CronSchedule.parse(equivalent).iter_after(after), 3))
    assert list(itertools.islice(CronSchedule.parse(macro).iter_after(after), 3)) == expected


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 9 * jan,jul mon", "2027-01-01T00:00+00:00", "2027-01-04T09:00:00+00:00"),
        ("0 9 * * MON-FRI", "2027-01-02T00:00+00:00", "2027-01-04T09:00:00+00:00"),
        ("0 9 L * *", "2027-02-01T00:00+00:00", "2027-02-28T09:00:00+00:00"),
        ("0 9 LW * *", "2027-07-01T00:00+00:00", "2027-07-30T09:00:00+00:00"),
        ("0 9 * * 5L", "2027-04-01T00:00+00:00", "2027-04-30T09:00:00+00:00"),
        ("0 9 * * MON#2", "2027-04-01T00:00+00:00", "2027-04-12T09:00:00+00:00"),
        ("0 9 * * 7", "2027-04-01T00:00+00:00", "2027-04-04T09:00:00+00:00"),
        ("0 9 13 * FRI", "2027-04-01T00:00+00:00", "2027-04-02T09:00:00+00:00"),
        ("*/15 9-17 * * mon-fri", "2027-04-02T17:50+00:00", "2027-04-05T09:00:00+00:00"),
        ("5 0 0 * * *", "2027-04-01T00:00+00:00", "2027-04-01T00:00:05+00:00"),
    ],
    ids=lambda value: value if " " in value else None,
)
def test_names_last_nth_and_seconds(expression, after, expected):
    result = CronSchedule.parse(expression).next_after(local(after))
    assert result is not None and result.isoformat() == expected


@pytest.mark.parametrize(
    ("expression", "field", "token"),
    [
        ("60 * * * * *", "second", "60"),
        ("61 * * * *", "minute", "61"),
        ("* 24 * * *", "hour", "24"),
        ("* * 32 * *", "day-of-month", "32"),
        ("* * 0 * *", "day-of-month", "0"),
        ("* * * 13 *", "month", "13"),
        ("* * * JANUARY *", "month", "JANUARY"),
        ("* * * * 8", "day-of-week", "8"),
        ("* * * * MON#6", "day-of-week", "MON#6"),
        ("*/0 * * * *", "minute", "*/0"),
        ("5-1 * * * *", "minute", "5-1"),
    ],
)
def test_a_bad_field_is_named_with_its_text(expression, field, token):
    with pytest.raises(InvalidTaskError) as info:
        CronSchedule.parse(expression)
    message = str(info.value)
    assert f"bad {field} field {token!r}" in message
    assert repr(expression) in message


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 0 15W * *", "W (nearest weekday)"),
        ("0 0 1,15W * *", "W (nearest weekday)"),
        ("0 0 ? * MON", "Quartz"),
        ("0 0 1 * ?", "Quartz"),
        ("* * * *", "got 4"),
        ("0 0 0 1 1 * 2027", "got 7"),
        ("", "got 0"),
        ("@reboot", "unknown macro"),
        ("0 0 30 2 *", "day-of-month"),
    ],
)
def test_unsupported_syntax_is_refused_with_a_clear_message(expression, words):
    with pytest.raises(InvalidTaskError, match="invalid cron expression") as info:
        CronSchedule.parse(expression)
    assert words in str(info.value)


def test_expression_length_is_bounded():
    longest = "0" + " " * (MAX_EXPRESSION_LENGTH - 8) + "* * * *"
    assert len(longest) == MAX_EXPRESSION_LENGTH
    CronSchedule.parse(longest)
    with pytest.raises(InvalidTaskError, match=f"at most {MAX_EXPRESSION_LENGTH}"):
        CronSchedule.parse(" " + longest)


@pytest.mark.parametrize("value", [None, 5, b"* * * * *", ["*"] * 5])
def test_an_expression_that_is_not_a_string_is_refused(value):
    with pytest.raises(InvalidTaskError, match="must be a string"):
        CronSchedule.parse(value)


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "europe/berlin", "Europe", "", "../etc/passwd", "/etc/localtime"]
)
def test_an_unknown_zone_is_named(zone):
    with pytest.raises(InvalidTaskError, match="time zone") as info:
        CronSchedule.parse("* * * * *", zone)
    assert repr(zone) in str(info.value)


def test_host_dependent_and_oversized_zone_names_are_refused():
    with pytest.raises(InvalidTaskError, match="differs from host to host"):
        CronSchedule.parse("* * * * *", "localtime")
    with pytest.raises(InvalidTaskError, match="at most 64"):
        CronSchedule.parse("* * * * *", "Europe/" + "x" * 100)
    with pytest.raises(InvalidTaskError, match="IANA name string"):
        CronSchedule.parse("* * * * *", 3)  # type: ignore[arg-type]


def test_parse_is_cached_and_schedules_compare_by_value():
    first = CronSchedule.parse("*/5 * * * *", "Europe/Berlin")
    assert CronSchedule.parse("*/5 * * * *", "Europe/Berlin") is first
    assert CronSchedule("*/5 * * * *", "Europe/Berlin") == first
    assert CronSchedule("*/5 * * * *", "Europe/Paris") != first
    assert first.expression == "*/5 * * * *"
    assert first.timezone == "Europe/Berlin"
    assert not first.has_seconds
    assert CronSchedule.parse("*/5 * * * * *").has_seconds


def test_describe_names_the_zone():
    assert CronSchedule.parse("30 2 * * *", "Europe/Berlin").describe() == (
        "At 02:30 every day (Europe/Berlin)"
    )


CRON_CHARACTERS = "0123456789*/,-#LW?@ abcdefghijklmnopqrstuvwxyzMONTUEJAN\t"


@settings(max_examples=300)
@given(st.text(alphabet=CRON_CHARACTERS, max_size=40))
def test_parse_raises_nothing_but_invalid_task_error(text):
    try:
        schedule = CronSchedule.parse(text)
    except InvalidTaskError:
        return
    schedule.next_after(datetime(2027, 1, 1, tzinfo=UTC))


# --- properties against a brute-force oracle ------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A generated cron expression and, independently of cronsim, the sets it stands for."""

    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    weekdays: frozenset[int]  # cron numbering: 0 = Sunday

    def matches(self, wall: datetime) -> bool:
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and (wall.weekday() + 1) % 7 in self.weekdays
        )


@st.composite
def field(draw, low: int, high: int, modulo: int = 0) -> tuple[str, frozenset[int]]:
    """A field's text and values; ``modulo`` 7 for weekdays, whose steps run up to 7 (Sunday)."""
    kind = draw(st.sampled_from(["*", "step", "range", "list"]))
    if kind == "*":
        return "*", frozenset(range(low, high + 1))
    if kind == "step":
        start = draw(st.integers(low, high))
        step = draw(st.integers(1, max(1, (high - low) // 2)))
        values = range(start, (modulo or high + 1) + (1 if modulo else 0), step)
        text = f"{start}/{step}" if start != low else f"*/{step}"
        return text, frozenset(value % modulo if modulo else value for value in values)
    if kind == "range":
        a, b = sorted(draw(st.tuples(st.integers(low, high), st.integers(low, high))))
        return f"{a}-{b}", frozenset(range(a, b + 1))
    values = draw(st.lists(st.integers(low, high), min_size=1, max_size=4, unique=True))
    return ",".join(map(str, values)), frozenset(values)


@st.composite
def expressions(draw, *, seconds: bool) -> Expression:
    second_text, second_set = ("", frozenset([0]))
    if seconds:
        step = draw(st.sampled_from([1, 7, 10, 15, 20, 30]))
        offset = draw(st.integers(0, step - 1))
        second_text, second_set = f"{offset}/{step} ", frozenset(range(offset, 60, step))
    minute_text, minute_set = draw(field(0, 59))
    hour_text, hour_set = draw(field(0, 23))
    weekday_text, weekday_set = draw(
        st.one_of(st.just(("*", frozenset(range(7)))), field(0, 6, modulo=7))
    )
    text = f"{second_text}{minute_text} {hour_text} * * {weekday_text}"
    return Expression(text, second_set, minute_set, hour_set, weekday_set)


DST_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Apia",
    "Antarctica/Troll",
    "Africa/Casablanca",
    "Europe/Dublin",
    "America/Santiago",
    "Asia/Tehran",
]


@functools.cache
def transitions(zone_name: str) -> list[datetime]:
    """The zone's UTC offset changes between 2010 and 2030, to the second."""
    zone = ZoneInfo(zone_name)
    found = []
    day = timedelta(days=1)
    at = datetime(2010, 1, 1, tzinfo=UTC)
    while at < datetime(2030, 1, 1, tzinfo=UTC):
        if (at + day).astimezone(zone).utcoffset() != at.astimezone(zone).utcoffset():
            low, high = at, at + day
            while high - low > SECOND:
                middle = low + (high - low) // SECOND // 2 * SECOND
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high)
        at += day
    return found


def wall(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def expected_instants(
    expression: Expression, zone: ZoneInfo, start: datetime, end: datetime, step: timedelta
) -> list[datetime]:
    """Brute force over every ``step`` of real time: what should run, by the rules alone.

    An instant runs when its wall time matches and is that wall time's first
    occurrence, or when it is the first instant after a gap holding a matching wall time.
    """
    runs = []
    previous = wall(start - step, zone)
    at = start
    while at < end:
        local_time = at.astimezone(zone)
        now_wall = local_time.replace(tzinfo=None)
        skipped = (previous + step * n for n in range(1, (now_wall - previous) // step))
        if any(expression.matches(w) for w in skipped) or (
            expression.matches(now_wall) and local_time.fold == 0
        ):
            runs.append(at)
        previous = now_wall
        at += step
    return runs


def produced_instants(schedule: CronSchedule, start: datetime, end: datetime) -> list[datetime]:
    instants = schedule.iter_after(start - timedelta(microseconds=1))
    return list(itertools.takewhile(lambda at: at < end, instants))


@st.composite
def windows(draw, *, hours: int) -> tuple[str, datetime]:
    """A zone and a whole-minute start up to ``hours`` before one of its offset changes."""
    zone_name = draw(st.sampled_from(DST_ZONES))
    changes = transitions(zone_name)
    change = draw(st.sampled_from(changes))
    shift = draw(st.integers(-hours * 60, 0)) * MINUTE
    start = (change + shift).replace(second=0, microsecond=0)
    return zone_name, start


ORACLE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@ORACLE_SETTINGS
@given(expressions(seconds=False), windows(hours=10))
def test_every_run_and_only_runs_by_the_rules_around_offset_changes(expression, window):
    zone_name, start = window
    zone = ZoneInfo(zone_name)
    end = start + timedelta(hours=12)
    schedule = CronSchedule.parse(expression.text, zone_name)
    produced = produced_instants(schedule, start, end)
    assert produced == expected_instants(expression, zone, start, end, MINUTE)


@settings(ORACLE_SETTINGS, max_examples=30)
@given(expressions(seconds=True), windows(hours=1))
def test_seconds_fields_run_by_the_rules_around_offset_changes(expression, window):
    zone_name, start = window
    assume(zone_name != "Pacific/Apia")  # a day-long gap: too long to brute-force by the second
    zone = ZoneInfo(zone_name)
    end = start + timedelta(hours=2)
    schedule = CronSchedule.parse(expression.text, zone_name)
    produced = produced_instants(schedule, start, end)
    assert produced == expected_instants(expression, zone, start, end, SECOND)


@ORACLE_SETTINGS
@given(expressions(seconds=False), windows(hours=10), st.integers(0, 12 * 3600 - 1))
def test_next_after_any_instant_is_the_first_run_after_it(expression, window, offset):
    zone_name, start = window
    zone = ZoneInfo(zone_name)
    end = start + timedelta(hours=12)
    schedule = CronSchedule.parse(expression.text, zone_name)
    instant = start + timedelta(seconds=offset)
    later = [at for at in expected_instants(expression, zone, start, end, MINUTE) if at > instant]
    result = schedule.next_after(instant)
    if later:
        assert result == later[0]
    else:
        assert result is None or result >= end


ALL_ZONES = sorted(available_timezones() - {"localtime", "Factory"})


def first_pass_or_gap_end(schedule: CronSchedule, at: datetime) -> None:
    """``at`` shows a matching wall time first, or is the end of a gap holding one."""
    now_wall = wall(at, schedule.zone)
    before = wall(at - timedelta(microseconds=1), schedule.zone)
    if next(CronSim(schedule.expression, now_wall - SECOND)) == now_wall:
        assert at.astimezone(schedule.zone).fold == 0, f"{at} is a second occurrence"
    else:
        assert now_wall - before > timedelta(microseconds=1), f"{at} is neither fire nor gap end"
        assert next(CronSim(schedule.expression, before)) <= now_wall


@settings(max_examples=100, deadline=None)
@given(
    expressions(seconds=False),
    st.sampled_from(ALL_ZONES),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_any_zone_instants_strictly_increase_and_map_back_to_the_expression(
    expression, zone_name, start
):
    schedule = CronSchedule.parse(expression.text, zone_name)
    start = start.replace(tzinfo=UTC)
    instants = list(itertools.islice(schedule.iter_after(start), 25))
    assert instants, "every generated expression fires"
    previous = start
    for at in instants:
        assert at > previous
        first_pass_or_gap_end(schedule, at)
        previous = at


def test_iterating_a_year_of_a_dst_zone_never_repeats_or_goes_back():
    schedule = CronSchedule.parse("0 * * * *", "Europe/Berlin")
    start = local("2027-01-01T00:00+01:00")
    end = local("2028-01-01T00:00+01:00")
    previous = start - timedelta(microseconds=1)
    count = 0
    for at in schedule.iter_after(previous):
        if at >= end:
            break
        assert at > previous
        previous = at
        count += 1
    # 365 days of 24 wall times, each run once, except that 02:00 on the
    # spring-forward day shares the run of 03:00.
    assert count == 365 * 24 - 1
