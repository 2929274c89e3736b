"""Times given on the command line: ISO 8601 (naive means local), ``now``, or ``+2h`` / ``-30m``."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta

_RELATIVE = re.compile(r"^([+-]?)(\d+(?:\.\d+)?)\s*(s|m|min|h|d)$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """An aware datetime: ``2025-06-01T14:00`` (local), ``...+02:00``, ``now``, ``+2h``, ``-30m``."""
    now = now or datetime.now().astimezone()
    value = text.strip()
    if value.lower() == "now":
        return now
    match = _RELATIVE.match(value.lower())
    if match:
        sign, amount, unit = match.groups()
        delta = timedelta(seconds=float(amount) * _UNITS[unit])
        return now - delta if sign == "-" else now + delta
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2025-06-01T14:00, local unless it has an "
            "offset), now, or a relative time like +2h, -30m, 1d"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.astimezone()
