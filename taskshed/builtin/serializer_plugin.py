"""Built-in plugin: the ``json`` and ``json-rich`` serializers."""

from __future__ import annotations

from taskshed.backends import SerializerBackend
from taskshed.markers import hookimpl
from taskshed.serializers.json import JSONSerializer
from taskshed.serializers.rich import RichJSONSerializer


@hookimpl
def taskshed_serializers() -> list[SerializerBackend]:
    return [
        SerializerBackend("json", JSONSerializer, "Compact JSON, as TaskShed 0.10 stored it."),
        SerializerBackend(
            "json-rich",
            RichJSONSerializer,
            "JSON plus datetime, date, time, timedelta, UUID, Decimal, bytes, set, tuple.",
        ),
    ]
