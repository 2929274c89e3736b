"""The reference-compatible serializer: compact JSON, byte for byte as TaskShed 0.10 wrote it."""

from __future__ import annotations

import json
from typing import Any

_COMPACT = (",", ":")


class JSONSerializer:
    """Plain JSON (strings, numbers, booleans, null, lists, objects)."""

    name = "json"

    def dumps(self, kwargs: dict[str, Any]) -> str:
        # allow_nan=False: NaN/Infinity are not JSON, and other readers reject them.
        return json.dumps(kwargs, separators=_COMPACT, allow_nan=False)

    def loads(self, data: str) -> dict[str, Any]:
        value = json.loads(data)
        if not isinstance(value, dict):
            raise ValueError("kwargs must decode to a JSON object")
        return value
