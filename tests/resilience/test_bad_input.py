"""G6, property-tested: hostile ids, unencodable kwargs, odd times and intervals, on every store.

Every example either gets a typed error (``taskshed.errors``; the reference's
``ValueError`` from ``Task()`` for a non-positive recurring interval) with the
store's raw records unchanged, or is stored and reads back exactly, and then
removing it leaves the raw records byte-for-byte as before. The victims in
:mod:`tests.resilience.harness` sit next to every key or row an id could aim at.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from taskshed.errors import InvalidTaskError, SerializationError, TaskNotFoundError, TaskshedError
from taskshed.models import Task, TaskExecutionTime
from taskshed.timeutils import EPOCH, MAX_RUN_AT
from taskshed.validation import MAX_ID_LENGTH, MAX_INTERVAL
from tests.resilience.harness import FAR, VICTIM_GROUPS, VICTIM_IDS, SyncStore
from tests.resilience.stores import KINDS, Backend
from tests.resilience.tally import Recorder

# Memory is cheap: many examples. Real servers: fewer, the whole suite stays small.
EXAMPLES = {"memory": 300, "sqlite": 60, "mariadb": 60, "postgresql": 60, "redis": 60}

FRAGMENTS = [
    ":", "{", "}", "'", '"', "%", "%s", "_", "\\", "*", "?", "[", "]", "--", ";", "/*",
    "task", "group", "tasks", "task_queue", "claims", "victim", "vgroup", "scheduler",
    "' OR '1'='1", "'; DROP TABLE _taskshed_data; --", '"); DELETE FROM _taskshed_data; --',
    "]]", "--[[", "redis.call('FLUSHALL')", "KEYS[1]", "ARGV[1]", "\n", "\t", " ", "\x00",
    "é", "𝄞", "\u202e", "\ud800", "Victim", "VGROUP", "cafe\u0301", "café", "\u00a0", "ß", "SS",
]  # fmt: skip

_VALID_FRAGMENTS = [f for f in FRAGMENTS if f not in ("\x00", "\ud800")]
# Mostly text a store must accept (and keep apart from every other task), some it must refuse.
hostile_text = st.one_of(
    st.lists(st.sampled_from(_VALID_FRAGMENTS), min_size=1, max_size=8).map("".join),
    st.lists(st.sampled_from(_VALID_FRAGMENTS), min_size=1, max_size=8).map("".join),
    st.lists(st.sampled_from(FRAGMENTS), min_size=0, max_size=8).map("".join),
    st.text(max_size=40),
    st.text(
        alphabet=st.sampled_from(":{}'\"%\\x"),
        min_size=MAX_ID_LENGTH - 2,
        max_size=MAX_ID_LENGTH + 3,
    ),
    st.just(""),
    st.just("x" * (MAX_ID_LENGTH + 1)),
)


@pytest.fixture(scope="module", params=KINDS)
def sync_store(request: pytest.FixtureRequest) -> Iterator[SyncStore]:
    harness = SyncStore(str(request.param))
    try:
        yield harness
    finally:
        harness.close()


def _settings(kind: str) -> settings:
    return settings(
        max_examples=EXAMPLES[kind],
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )


def _valid_id(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    # A trailing space is refused: MySQL/MariaDB compare ids with PAD SPACE.
    return 0 < len(value) <= MAX_ID_LENGTH and "\x00" not in value and not value.endswith(" ")


# ---------------------------------------------------------------------- ids


def test_hostile_ids_reach_nothing_but_their_own_task(
    sync_store: SyncStore, tally: Recorder
) -> None:
    counts = {"examples": 0, "rejected": 0, "stored": 0}

    @_settings(sync_store.kind)
    @given(task_id=hostile_text, group_id=hostile_text, callback=hostile_text)
    @example(task_id="'; DROP TABLE _taskshed_data; --", group_id="' OR '1'='1", callback="x")
    @example(task_id="victim:task:x", group_id="vgroup:tasks:x", callback="cb")
    @example(task_id="*", group_id="*", callback="*")
    @example(
        task_id="𝄞" * MAX_ID_LENGTH, group_id="𝄞" * MAX_ID_LENGTH, callback="é" * MAX_ID_LENGTH
    )
    @example(task_id="𝄞" * (MAX_ID_LENGTH + 1), group_id="g", callback="cb")
    @example(task_id="%", group_id="%", callback="%")
    @example(task_id="{vgroup}", group_id="}{", callback="redis.call('FLUSHALL')")
    def check(task_id: str, group_id: str, callback: str) -> None:
        if task_id in VICTIM_IDS or group_id in VICTIM_GROUPS:
            return
        counts["examples"] += 1
        store = sync_store.store
        task = Task(
            callback=callback,
            run_at=FAR,
            task_id=task_id,
            kwargs={"me": task_id[:50]},
            group_id=group_id,
        )
        valid = all(_valid_id(v) for v in (task_id, group_id, callback))
        try:
            sync_store.run(store.add_tasks([task]))
        except InvalidTaskError:
            assert not valid, f"valid id rejected: {task_id!r} {group_id!r} {callback!r}"
            counts["rejected"] += 1
            sync_store.assert_intact()
            # Reads and removals with an invalid id are refused the same way.
            if not _valid_id(task_id):
                for call in (store.fetch_tasks, store.remove_tasks):
                    with pytest.raises(InvalidTaskError):
                        sync_store.run(call([task_id]))
            if not _valid_id(group_id):
                with pytest.raises(InvalidTaskError):
                    sync_store.run(store.remove_group_tasks(group_id))
            sync_store.assert_intact()
            return
        assert valid, f"invalid id accepted: {task_id!r} {group_id!r} {callback!r}"
        counts["stored"] += 1
        (back,) = sync_store.run(store.fetch_tasks([task_id]))
        assert (back.task_id, back.group_id, back.callback, back.kwargs) == (
            task_id, group_id, callback, {"me": task_id[:50]},
        )  # fmt: skip
        assert [t.task_id for t in sync_store.run(store.fetch_group_tasks(group_id))] == [task_id]
        sync_store.run(store.update_tasks_paused_status([task_id], True))
        sync_store.run(store.update_group_paused_status(group_id, False))
        sync_store.run(
            store.update_execution_times([TaskExecutionTime(task_id=task_id, run_at=FAR)])
        )
        sync_store.run(store.remove_group_tasks(group_id))
        assert sync_store.run(store.fetch_tasks([task_id])) == []
        sync_store.assert_intact()

    check()
    sync_store.assert_intact()
    tally.add(
        "bad input",
        "hostile ids, group ids and callback names (SQL/Lua/glob metacharacters, quotes, `:{}`, NUL, empty, 256+ chars, lone surrogates): add, read, pause, resume, re-time, remove",
        f"{counts['examples']} examples: {counts['rejected']} rejected with InvalidTaskError, "
        f"{counts['stored']} stored and read back exactly; other tasks byte-for-byte intact",
        store=sync_store.kind,
    )


# ---------------------------------------------------------------------- kwargs


class Opaque:
    pass


def _circular() -> dict:
    loop: dict = {}
    loop["self"] = loop
    return loop


def _deep(n: int) -> list:
    value: list = []
    for _ in range(n):
        value = [value]
    return value


bad_values = st.one_of(
    st.builds(Opaque),
    st.sets(st.integers(), max_size=3),
    st.binary(max_size=10),
    st.complex_numbers(allow_nan=False, allow_infinity=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.datetimes(),
    st.decimals(allow_nan=False),
    st.just(Decimal("1.5")),
    st.builds(_circular),
    st.just(_deep(5000)),
    st.just(lambda: None),
)
good_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def test_unencodable_kwargs_store_nothing(sync_store: SyncStore, tally: Recorder) -> None:
    counts = {"examples": 0}

    @_settings(sync_store.kind)
    @given(
        good=st.dictionaries(st.text(min_size=1, max_size=8), good_values, max_size=3),
        bad_key=st.text(min_size=1, max_size=8),
        bad=bad_values,
        position=st.integers(0, 2),
    )
    def check(good: dict, bad_key: str, bad: object, position: int) -> None:
        counts["examples"] += 1
        kwargs = dict(good)
        kwargs.pop(bad_key, None)
        kwargs[bad_key] = bad
        ids = [
            f"kw-ok-a-{counts['examples']}",
            f"kw-bad-{counts['examples']}",
            f"kw-ok-b-{counts['examples']}",
        ]
        tasks = [Task(callback="cb", run_at=FAR, task_id=i, kwargs=dict(good)) for i in ids]
        tasks[1] = Task(callback="cb", run_at=FAR, task_id=ids[1], kwargs=kwargs)
        tasks.insert(position, tasks.pop(1))
        with pytest.raises(SerializationError) as raised:
            sync_store.run(sync_store.store.add_tasks(tasks))
        assert raised.value.task_id == ids[1]
        assert raised.value.key == bad_key
        # One bad task in a batch: none of the batch is stored.
        assert sync_store.run(sync_store.store.fetch_tasks(ids)) == []
        sync_store.assert_intact()

    check()
    tally.add(
        "bad input",
        "unencodable kwargs (objects, sets, bytes, complex, NaN/inf, datetimes, Decimals, circular and 5000-deep structures, functions) in a batch of three",
        f"{counts['examples']} examples: each SerializationError named the task and key; no task of the batch stored",
        store=sync_store.kind,
    )


# ---------------------------------------------------------------------- times


def _instant(dt: datetime) -> datetime | None:
    """The UTC instant ``dt`` means, or None when it has none inside datetime's range."""
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# Zones at the ends of the offset range and a few ordinary ones.
ZONES = [
    None,
    UTC,
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-12)),
    timezone(timedelta(hours=5, minutes=45)),
    timezone(timedelta(hours=-9, minutes=-30)),
    timezone(timedelta(hours=23, minutes=59)),
    timezone(timedelta(hours=-23, minutes=-59)),
]
zones: Any = st.sampled_from(ZONES) | st.timezones()
times = st.one_of(
    st.datetimes(timezones=zones),
    st.datetimes(
        min_value=datetime(1969, 12, 30), max_value=datetime(1970, 1, 2), timezones=zones,
    ),
    st.datetimes(
        min_value=datetime(9999, 12, 29), max_value=datetime(9999, 12, 30, 23),
        timezones=st.sampled_from(ZONES),
    ),
)  # fmt: skip
intervals = st.one_of(
    st.none(),
    st.timedeltas(),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(seconds=2)),
    st.timedeltas(
        min_value=MAX_INTERVAL - timedelta(days=1), max_value=MAX_INTERVAL + timedelta(days=1)
    ),
    st.sampled_from(
        [
            timedelta(0),
            timedelta(microseconds=1),
            -timedelta(microseconds=1),
            timedelta.max,
            timedelta.min,
        ]
    ),
)


def test_times_and_intervals_are_stored_exactly_or_refused(
    sync_store: SyncStore, tally: Recorder, far_from_utc: None
) -> None:
    """Naive times are read in a local zone far from UTC, so naive-as-UTC fails here."""
    counts = {"examples": 0, "refused": 0, "stored": 0}
    tolerance = timedelta(milliseconds=1) if sync_store.kind == "redis" else timedelta(0)

    @_settings(sync_store.kind)
    @given(run_at=times, interval=intervals, recurring=st.booleans())
    @example(run_at=datetime(1970, 1, 1, tzinfo=UTC), interval=None, recurring=False)
    @example(
        run_at=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        interval=None,
        recurring=False,
    )
    @example(
        run_at=datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),
        interval=timedelta(days=1),
        recurring=True,
    )
    @example(run_at=datetime(2030, 1, 1), interval=timedelta(microseconds=1), recurring=True)
    def check(run_at: datetime, interval: timedelta | None, recurring: bool) -> None:
        instant = _instant(run_at)
        if instant is None:
            return  # no instant at all: test_out_of_range_zone_conversion covers it
        counts["examples"] += 1
        task_id = f"time-{counts['examples']}"
        run_type: Literal["once", "recurring"] = "recurring" if recurring else "once"
        try:
            task = Task(
                callback="cb", run_at=run_at, task_id=task_id, run_type=run_type, interval=interval
            )
        except ValueError as exc:  # the reference's Task() check of recurring intervals
            assert recurring and (interval is None or interval <= timedelta(0)), exc
            counts["refused"] += 1
            return
        expect_ok = EPOCH <= instant < MAX_RUN_AT and (
            interval is None or timedelta(0) < interval <= MAX_INTERVAL
        )
        try:
            sync_store.run(sync_store.store.add_tasks([task]))
        except InvalidTaskError:
            assert not expect_ok, f"refused a valid task: {run_at!r} {interval!r}"
            counts["refused"] += 1
            sync_store.assert_intact()
            return
        assert expect_ok, f"stored an invalid task: {run_at!r} {interval!r}"
        counts["stored"] += 1
        (back,) = sync_store.run(sync_store.store.fetch_tasks([task_id]))
        assert abs(back.run_at - instant) <= tolerance, (back.run_at, instant)
        assert back.run_at.utcoffset() == timedelta(0)
        if interval is not None:
            assert back.interval is not None and abs(back.interval - interval) <= timedelta(
                microseconds=1
            ), (back.interval, interval)
        sync_store.run(sync_store.store.remove_tasks([task_id]))
        sync_store.assert_intact()

    check()
    tally.add(
        "bad input",
        "datetimes naive / in every IANA zone and ±23:59 offsets / around 1970 and 9999; intervals zero, negative, 1 µs, near and past 100 years, timedelta.max/min",
        f"{counts['examples']} examples: {counts['refused']} refused with a typed error, "
        f"{counts['stored']} stored and read back at the same instant"
        + (" (within 1 ms)" if tolerance else " (to the µs)"),
        store=sync_store.kind,
    )


def test_retiming_to_bad_times_changes_nothing(sync_store: SyncStore, tally: Recorder) -> None:
    counts = {"examples": 0}

    @_settings(sync_store.kind)
    @given(
        run_at=st.one_of(
            st.datetimes(max_value=datetime(1969, 12, 31), timezones=st.just(UTC)),
            st.datetimes(min_value=datetime(9999, 12, 31), timezones=st.just(UTC)),
        ),
        task_id=st.sampled_from(sorted(VICTIM_IDS)),
    )
    def check(run_at: datetime, task_id: str) -> None:
        counts["examples"] += 1
        with pytest.raises(InvalidTaskError):
            sync_store.run(
                sync_store.store.update_execution_times(
                    [
                        TaskExecutionTime(task_id="vrec", run_at=FAR),
                        TaskExecutionTime(task_id=task_id, run_at=run_at),
                    ]
                )
            )
        with pytest.raises(TaskNotFoundError):
            sync_store.run(
                sync_store.store.update_execution_times(
                    [
                        TaskExecutionTime(task_id=task_id, run_at=FAR + timedelta(days=3)),
                        TaskExecutionTime(task_id=f"missing-{task_id}", run_at=FAR),
                    ]
                )
            )
        with pytest.raises(TaskNotFoundError):
            sync_store.run(
                sync_store.store.update_tasks_paused_status(
                    [task_id, "no-such-task"], True, strict=True
                )
            )
        sync_store.assert_intact()

    check()
    tally.add(
        "bad input",
        "re-timing a batch where one time is outside 1970-9999, or one id is unknown; pausing a batch with an unknown id strictly",
        f"{counts['examples']} examples: InvalidTaskError / TaskNotFoundError, no task of the batch changed",
        store=sync_store.kind,
    )


@pytest.mark.parametrize(
    "run_at",
    [
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
    ],
    ids=["after-9999-in-utc", "before-year-1-in-utc"],
)
def test_out_of_range_zone_conversion_is_a_typed_error(run_at: datetime, tally: Recorder) -> None:
    """An aware time whose UTC instant is outside datetime's range: InvalidTaskError, not OverflowError."""
    try:
        Task(callback="cb", run_at=run_at)
    except TaskshedError:
        outcome = "typed error"
    except OverflowError as exc:
        outcome = f"OverflowError: {exc}"
    tally.add("bad input", f"Task(run_at={run_at!r})", outcome)
    assert outcome == "typed error", f"Task() raised {outcome} (BUGS.md: Task.__post_init__)"


async def test_oversized_kwargs_are_stored_whole_or_refused_whole(
    backend: Backend, tally: Recorder
) -> None:
    """17 MB of kwargs (over MySQL's MEDIUMTEXT and the server's default packet limit) beside a small task."""
    store = backend.open()
    await store.start()
    ids = ["small-beside-big", "big"]
    blob = "x" * (17 * 1024 * 1024)
    tasks = [
        Task(callback="cb", run_at=FAR, task_id=ids[0], kwargs={"a": 1}),
        Task(callback="cb", run_at=FAR, task_id=ids[1], kwargs={"blob": blob}),
    ]
    try:
        await store.add_tasks(tasks)
    except TaskshedError as exc:
        outcome = f"refused: {type(exc).__name__}: {str(exc)[:100]}"
        assert await store.fetch_tasks(ids) == []
    else:
        back = {t.task_id: t for t in await store.fetch_tasks(ids)}
        assert back["big"].kwargs == {"blob": blob} and back[ids[0]].kwargs == {"a": 1}
        outcome = "stored and read back whole"
    await store.remove_tasks(ids)
    tally.add(
        "bad input",
        "kwargs of 17 MB in a batch beside a small task",
        outcome + "; nothing of the batch stored partly",
    )
