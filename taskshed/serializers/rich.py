"""A JSON serializer that also round-trips the common standard-library value types.

Values JSON lacks are written as small tagged objects, ``{"$taskshed": TAG,
"v": VALUE}``, so the stored text stays readable JSON that any tool can open.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

TAG = "$taskshed"
_COMPACT = (",", ":")


def _encode_timedelta(value: timedelta) -> list[int]:
    return [value.days, value.seconds, value.microseconds]


def _decode_timedelta(value: list[int]) -> timedelta:
    days, seconds, micros = value
    return timedelta(days=days, seconds=seconds, microseconds=micros)


# Order matters: datetime is a subclass of date.
_ENCODERS: list[tuple[type, str, Callable[[Any], Any]]] = [
    (datetime, "datetime", datetime.isoformat),
    (date, "date", date.isoformat),
    (time, "time", time.isoformat),
    (timedelta, "timedelta", _encode_timedelta),
    (UUID, "uuid", str),
    (Decimal, "decimal", str),
    (bytes, "bytes", lambda value: base64.b64encode(value).decode("ascii")),
]

_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "timedelta": _decode_timedelta,
    "uuid": UUID,
    "decimal": Decimal,
    "bytes": lambda value: base64.b64decode(value.encode("ascii"), validate=True),
}


class RichJSONSerializer:
    """JSON plus ``datetime``, ``date``, ``time``, ``timedelta``, ``UUID``,
    ``Decimal``, ``bytes``, ``set``, ``frozenset`` and ``tuple``."""

    name = "json-rich"

    def dumps(self, kwargs: dict[str, Any]) -> str:
        return json.dumps(_encode(kwargs), separators=_COMPACT, allow_nan=False)

    def loads(self, data: str) -> dict[str, Any]:
        value = _decode(json.loads(data))
        if not isinstance(value, dict):
            raise ValueError("kwargs must decode to a JSON object")
        return value


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        encoded = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"dict keys must be strings, not {type(key).__name__}")
            encoded[key] = _encode(item)
        # A user dict that happens to look like one of our tags is wrapped,
        # so that it reads back as the dict it was.
        if TAG in encoded:
            return {TAG: "dict", "v": encoded}
        return encoded
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [_encode(item) for item in value]}
    if isinstance(value, (set, frozenset)):
        items = [_encode(item) for item in value]
        items.sort(key=lambda item: json.dumps(item, sort_keys=True))
        return {TAG: "frozenset" if isinstance(value, frozenset) else "set", "v": items}
    for kind, tag, encoder in _ENCODERS:
        if isinstance(value, kind):
            return {TAG: tag, "v": encoder(value)}
    raise TypeError(f"values of type {type(value).__name__} can't be serialized")


def _decode(value: Any) -> Any:
    # Top-down, so that a wrapped user dict is kept as a dict even when it
    # looks like a tag itself.
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None or len(value) != 2 or "v" not in value:
        return {key: _decode(item) for key, item in value.items()}
    inner = value["v"]
    if tag == "dict":
        if not isinstance(inner, dict):
            raise ValueError("bad dict value")
        return {key: _decode(item) for key, item in inner.items()}
    if tag in ("tuple", "set", "frozenset"):
        if not isinstance(inner, list):
            raise ValueError(f"bad {tag} value")
        items = [_decode(item) for item in inner]
        if tag == "tuple":
            return tuple(items)
        hashable = [_hashable(item) for item in items]
        return set(hashable) if tag == "set" else frozenset(hashable)
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise ValueError(f"unknown tagged value {tag!r}")
    try:
        return decoder(inner)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"bad {tag} value {inner!r}: {exc}") from exc


def _hashable(item: Any) -> Any:
    return tuple(item) if isinstance(item, list) else item
