"""The serializer protocol, and the one place that turns its failures into typed errors."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from taskshed.errors import SerializationError
from taskshed.models import Task


@runtime_checkable
class Serializer(Protocol):
    """Turns a task's kwargs into text and back.

    ``dumps`` raises ``TypeError`` or ``ValueError`` for a value it can't
    encode; ``loads`` raises ``ValueError`` for text it can't decode.
    """

    name: str

    def dumps(self, kwargs: dict[str, Any]) -> str: ...

    def loads(self, data: str) -> dict[str, Any]: ...


def encode_kwargs(serializer: Serializer, task: Task) -> str:
    """Encode ``task.kwargs``; on failure name the task and the offending key."""
    try:
        return serializer.dumps(task.kwargs)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        key = _find_bad_key(serializer, task.kwargs)
        where = f"kwargs[{key!r}]" if key is not None else "kwargs"
        raise SerializationError(
            f"task {task.task_id!r}: {where} can't be encoded by the "
            f"{serializer.name!r} serializer: {exc}",
            task_id=task.task_id,
            key=key,
        ) from exc


def decode_kwargs(serializer: Serializer, data: str, *, task_id: str) -> dict[str, Any]:
    try:
        kwargs = serializer.loads(data)
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerializationError(
            f"task {task_id!r}: stored kwargs can't be decoded by the "
            f"{serializer.name!r} serializer: {exc}",
            task_id=task_id,
        ) from exc
    if not isinstance(kwargs, dict):
        raise SerializationError(
            f"task {task_id!r}: stored kwargs are a {type(kwargs).__name__}, not an object",
            task_id=task_id,
        )
    return kwargs


def _find_bad_key(serializer: Serializer, kwargs: Any) -> str | None:
    if not isinstance(kwargs, dict):
        return None
    for key, value in kwargs.items():
        try:
            serializer.dumps({key: value} if isinstance(key, str) else {str(key): value})
        except (TypeError, ValueError, OverflowError, RecursionError):
            return str(key)
        if not isinstance(key, str):
            return repr(key)
    return None
