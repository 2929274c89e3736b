"""Cron schedules in an IANA time zone: parsed by cronsim, mapped to instants by our DST rules.

cronsim walks NAIVE wall-clock fire times (so none of its Debian-cron DST quirks
apply); each wall time then becomes an instant:

- a wall time that occurs once is that instant;
- a wall time that occurs twice (the clocks fall back) is its FIRST occurrence;
- a wall time that does not exist (the clocks spring forward) is the first instant
  after the gap; every fire time in one gap, and one exactly at its end, share it.

Instants only ever move forward: no instant is produced twice, and ``next_after``
of an instant in a repeated hour's second pass never returns the first pass again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from taskshed.errors import InvalidTaskError
from taskshed.timeutils import to_utc

#: Longest cron expression accepted (real ones are a few dozen characters).
MAX_EXPRESSION_LENGTH = 200
#: Longest time zone name accepted (IANA names are at most about 30 characters).
MAX_TIMEZONE_LENGTH = 64

#: The ``@`` macros we accept, as the 5-field expressions they stand for.
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_FIELD_NAMES = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
_FIELD_HINTS = {
    "second": "0-59",
    "minute": "0-59",
    "hour": "0-23",
    "day-of-month": "1-31, L for the last day, LW for the last weekday",
    "month": "1-12 or JAN-DEC",
    "day-of-week": "0-7 or SUN-SAT (0 and 7 are Sunday), 5L for the last Friday, MON#2 for the second Monday",
}
_MICROSECOND = timedelta(microseconds=1)


class CronSchedule:
    """A validated cron expression in a time zone; immutable, so parsed ones are shared.

    Build one with :meth:`parse` (cached) or the constructor (not cached); both
    raise :class:`~taskshed.errors.InvalidTaskError` naming the bad field or zone.
    """

    __slots__ = ("_fields", "_is_utc", "expression", "timezone", "zone")

    expression: str
    timezone: str | None
    zone: ZoneInfo

    def __init__(self, expression: str, timezone: str | None = None) -> None:
        self.expression = expression
        self.timezone = timezone
        self.zone = _zone(timezone)
        self._is_utc = self.zone.key == "UTC"
        self._fields = _fields(expression)

    @classmethod
    def parse(cls, expression: str, timezone: str | None = None) -> CronSchedule:
        """The schedule for ``expression`` in ``timezone`` (IANA name; None = UTC), cached."""
        if not isinstance(expression, str):
            raise InvalidTaskError(
                f"a cron expression must be a string, not {type(expression).__name__}"
            )
        if timezone is not None and not isinstance(timezone, str):
            raise InvalidTaskError(
                f"a time zone must be an IANA name string, not {type(timezone).__name__}"
            )
        return _parse_cached(expression, timezone)

    @property
    def has_seconds(self) -> bool:
        """True when the expression has a leading seconds field (6 fields)."""
        return len(self._fields.split()) == 6

    def next_after(self, instant: datetime) -> datetime | None:
        """The first fire instant strictly after ``instant``, as an aware UTC datetime.

        A naive ``instant`` is local time. None when the expression has no fire
        time within cronsim's horizon (50 years) or before ``datetime.max``.
        """
        return next(self.iter_after(instant), None)

    def iter_after(self, instant: datetime) -> Iterator[datetime]:
        """Every fire instant strictly after ``instant``, strictly increasing, in UTC."""
        last = to_utc(instant)
        try:
            # Wall times up to the clock's reading at `instant` map to instants
            # <= `instant`. In a repeated hour's second pass some later wall times
            # do too (they fired in the first pass): the `at > last` check skips them.
            cursor: datetime | None = self._wall(last)
            while cursor is not None:
                restart = None
                for wall in CronSim(self._fields, cursor):
                    at, in_gap = self._instant(wall)
                    if at > last:
                        yield at
                        last = at
                    if in_gap:
                        # Every fire time up to the first wall time after the gap
                        # has become `at`: go on from there without visiting them.
                        restart = max(self._wall(at), wall)
                        break
                cursor = restart
        except OverflowError:
            # Near datetime.max: there is no representable fire time after this.
            return

    def describe(self) -> str:
        """An English description, e.g. ``At 02:30 every day (Europe/Berlin)``."""
        text = CronSim(self._fields, datetime(2000, 1, 1)).explain()
        return f"{text} ({self.zone.key})"

    def _wall(self, at: datetime) -> datetime:
        """The naive wall-clock time in the zone at the aware instant ``at``."""
        return at.astimezone(self.zone).replace(tzinfo=None)

    def _instant(self, wall: datetime) -> tuple[datetime, bool]:
        """The instant a wall time runs at, and whether the wall time fell in a gap."""
        if self._is_utc:
            return wall.replace(tzinfo=UTC), False
        # fold=0: the first occurrence of a repeated wall time.
        at = wall.replace(tzinfo=self.zone).astimezone(UTC)
        if self._wall(at) == wall:
            return at, False
        return self._gap_end(wall), True

    def _gap_end(self, wall: datetime) -> datetime:
        """The first instant whose wall clock reads ``wall`` or later (``wall`` is in a gap).

        For a time in a gap, fold=0 and fold=1 read it with the offsets before and
        after the change: the transition lies between those two instants.
        Transitions fall on whole seconds, found here to the microsecond.
        """
        first = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        low, high = min(first, second), max(first, second)
        if not self._wall(low) < wall <= self._wall(high):
            return high  # not a simple gap (no such zone known); never go backwards
        while high - low > _MICROSECOND:
            middle = low + (high - low) // 2
            if self._wall(middle) >= wall:
                high = middle
            else:
                low = middle
        return high

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {self.timezone!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CronSchedule):
            return NotImplemented
        return (self.expression, self.timezone) == (other.expression, other.timezone)

    def __hash__(self) -> int:
        return hash((self.expression, self.timezone))


@functools.lru_cache(maxsize=1024)
def _parse_cached(expression: str, timezone: str | None) -> CronSchedule:
    return CronSchedule(expression, timezone)


def _zone(name: str | None) -> ZoneInfo:
    if name is None:
        return ZoneInfo("UTC")
    if not isinstance(name, str):
        raise InvalidTaskError(
            f"a time zone must be an IANA name string, not {type(name).__name__}"
        )
    if not name or len(name) > MAX_TIMEZONE_LENGTH:
        raise InvalidTaskError(
            f"invalid time zone {name[:MAX_TIMEZONE_LENGTH]!r}: expected an IANA name "
            f"such as 'Europe/Berlin' (at most {MAX_TIMEZONE_LENGTH} characters)"
        )
    if name == "localtime":
        raise InvalidTaskError(
            "invalid time zone 'localtime': it differs from host to host; "
            "name the IANA zone, e.g. 'Europe/Berlin'"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTaskError(
            f"unknown time zone {name!r}: expected an IANA name such as 'Europe/Berlin' "
            "or 'America/New_York' (case matters; without a system tz database "
            "install the 'tzdata' package)"
        ) from None


def _fields(expression: str) -> str:
    """The cronsim form of ``expression`` (macros expanded), or InvalidTaskError."""
    if not isinstance(expression, str):
        raise InvalidTaskError(
            f"a cron expression must be a string, not {type(expression).__name__}"
        )
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise InvalidTaskError(
            f"invalid cron expression: {len(expression)} characters "
            f"(at most {MAX_EXPRESSION_LENGTH})"
        )
    text = expression.strip()
    if text.startswith("@"):
        macro = MACROS.get(text.lower())
        if macro is None:
            raise InvalidTaskError(
                f"invalid cron expression {expression!r}: unknown macro "
                f"(known: {', '.join(MACROS)})"
            )
        return macro
    parts = text.split()
    if len(parts) not in (5, 6):
        raise InvalidTaskError(
            f"invalid cron expression {expression!r}: expected 5 fields "
            "(minute hour day-of-month month day-of-week) or 6 with a leading seconds "
            f"field, got {len(parts)}"
        )
    names = _FIELD_NAMES[6 - len(parts) :]
    for name, part in zip(names, parts, strict=True):
        _refuse_unsupported(expression, name, part.upper())
    try:
        CronSim(" ".join(parts), datetime(2000, 1, 1))
    except CronSimError as exc:
        bad = _bad_field(str(exc))
        if bad is None or bad not in names:
            raise InvalidTaskError(f"invalid cron expression {expression!r}: {exc}") from None
        name, part = bad, parts[names.index(bad)]
        raise InvalidTaskError(
            f"invalid cron expression {expression!r}: bad {name} field {part!r} "
            f"(allowed: {_FIELD_HINTS[name]}, with ranges a-b, steps */n or a-b/n, lists a,b)"
        ) from None
    return " ".join(parts)


def _refuse_unsupported(expression: str, name: str, part: str) -> None:
    """Clear messages for syntax other crons accept and cronsim does not."""
    if name == "day-of-month" and any("W" in term and term != "LW" for term in part.split(",")):
        raise InvalidTaskError(
            f"invalid cron expression {expression!r}: the W (nearest weekday) modifier in "
            f"the day-of-month field {part!r} is not supported; LW (the last weekday of "
            "the month) is"
        )
    if name in ("day-of-month", "day-of-week") and "?" in part:
        raise InvalidTaskError(
            f"invalid cron expression {expression!r}: '?' in the {name} field is Quartz "
            "syntax; use '*'"
        )


def _bad_field(message: str) -> str | None:
    """The field a cronsim message such as 'Bad day-of-month' names."""
    prefix = "Bad "
    return message[len(prefix) :] if message.startswith(prefix) else None
