"""Deliberately broken serializers: each breaks one promise, and the SerializerSuite must notice.

This module is also a taskshed plugin (serializers ``broken-*``) so that the
datastore suite can be run with one of them through ``--taskshed-serializer``;
it is only ever registered explicitly.
"""

from __future__ import annotations

import json
from typing import Any

from taskshed import hookimpl
from taskshed.backends import SerializerBackend
from taskshed.serializers.json import JSONSerializer


class BytesSerializer(JSONSerializer):
    """dumps returns bytes, which no text column holds."""

    name = "broken-bytes"

    def dumps(self, kwargs: dict[str, Any]) -> Any:
        return super().dumps(kwargs).encode()

    def loads(self, data: Any) -> dict[str, Any]:
        return super().loads(data.decode() if isinstance(data, bytes) else data)


class NulSerializer(JSONSerializer):
    """Writes NUL characters raw, which PostgreSQL text refuses."""

    name = "broken-nul"

    def dumps(self, kwargs: dict[str, Any]) -> str:
        return super().dumps(kwargs).replace("\\u0000", "\x00")

    def loads(self, data: str) -> dict[str, Any]:
        return super().loads(data.replace("\x00", "\\u0000"))


class LenientSerializer(JSONSerializer):
    """Reads garbage as empty kwargs instead of raising: unreadable records go unnoticed."""

    name = "broken-lenient"

    def loads(self, data: str) -> dict[str, Any]:
        try:
            return super().loads(data)
        except ValueError:
            return {}


class KeyErrorSerializer(JSONSerializer):
    """Raises KeyError on garbage, which readers don't expect."""

    name = "broken-keyerror"

    def loads(self, data: str) -> dict[str, Any]:
        try:
            return super().loads(data)
        except ValueError as exc:
            raise KeyError(str(exc)) from None


class CachingSerializer(JSONSerializer):
    """Hands out the same dict for the same text: one caller's change shows in the next."""

    name = "broken-caching"

    def __init__(self) -> None:
        self._cache: dict[str, dict[str, Any]] = {}

    def loads(self, data: str) -> dict[str, Any]:
        if data not in self._cache:
            self._cache[data] = super().loads(data)
        return self._cache[data]


class FloatingSerializer(JSONSerializer):
    """Turns every whole number into a float (as some formats do): 1 comes back as 1.0."""

    name = "broken-floating"

    def loads(self, data: str) -> dict[str, Any]:
        value = json.loads(data, parse_int=float)
        if not isinstance(value, dict):
            raise ValueError("kwargs must decode to an object")
        return value


class LossySerializer(JSONSerializer):
    """Drops empty strings: a store suite run with it must fail its kwargs round trips."""

    name = "broken-lossy"

    def loads(self, data: str) -> dict[str, Any]:
        return {k: v for k, v in super().loads(data).items() if v != ""}


BROKEN_SERIALIZERS: dict[str, type[JSONSerializer]] = {
    cls.__name__: cls
    for cls in (
        BytesSerializer,
        NulSerializer,
        LenientSerializer,
        KeyErrorSerializer,
        CachingSerializer,
        FloatingSerializer,
        LossySerializer,
    )
}


@hookimpl
def taskshed_serializers() -> list[SerializerBackend]:
    return [SerializerBackend(cls.name, cls) for cls in BROKEN_SERIALIZERS.values()]
