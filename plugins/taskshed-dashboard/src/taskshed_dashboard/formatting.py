"""How values read on a page: times, durations, kwargs, links. Registered as Jinja filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utc_text(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str:
    """Machine-readable UTC for ``<time datetime>`` (the browser turns it into local time)."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def in_zone(value: datetime | None, zone: str | None) -> str:
    """``value`` on the wall clock of IANA ``zone`` (a cron task's own zone)."""
    if value is None:
        return "—"
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return utc_text(value)
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def duration(value: timedelta | float | None) -> str:
    """``1 d 2 h``, ``5 min 3 s``, ``250 ms``: the two largest units."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    negative, seconds = seconds < 0, abs(seconds)
    if seconds < 1:
        text = f"{seconds * 1000:.0f} ms"
    else:
        parts = []
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
            amount, seconds = divmod(seconds, size)
            if amount >= 1:
                parts.append(f"{int(amount)} {unit}")
        text = " ".join(parts[:2])
    return f"-{text}" if negative else text


def relative(value: datetime | None, now: datetime) -> str:
    """``in 5 min`` or ``3 h ago``, measured on the store's clock."""
    if value is None:
        return ""
    delta = value - now
    if abs(delta) < timedelta(seconds=1):
        return "now"
    text = duration(abs(delta))
    return f"in {text}" if delta > timedelta(0) else f"{text} ago"


def pretty_json(value: Any) -> str:
    """Kwargs indented for reading; values JSON can't show appear as their ``repr``."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=repr)


def href(root: str, path: str, params: dict[str, Any] | None = None) -> str:
    """A link inside the dashboard (under the prefix it is mounted at), empty params dropped."""
    query = {key: value for key, value in (params or {}).items() if value not in (None, "")}
    url = f"{root}{path}"
    return f"{url}?{urlencode(query, doseq=True)}" if query else url


FILTERS = {
    "utc": utc_text,
    "iso": iso,
    "in_zone": in_zone,
    "duration": duration,
    "relative": relative,
    "pretty_json": pretty_json,
}
