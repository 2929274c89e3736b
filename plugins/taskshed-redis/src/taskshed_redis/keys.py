"""Key names: the 0.10 layout under a prefix, built so that no id can reach another's keys.

Every key is ``<base>:<rest>`` where ``<base>`` is the prefix (or ``{prefix}`` when
a Cluster hash tag is asked for) and ``<rest>`` is one of::

    task_queue                    sorted set: the schedule
    claims                        sorted set: the tasks currently claimed (ours, not 0.10's)
    task:<task id>                hash: one task
    group:<group id>:tasks        set: the ids of one group

Why ids can't collide: within one base, ``task:`` keys, ``group:`` keys and the
two fixed names differ in their first characters after the base; a task key is
its fixed head followed by the whole id, and a group key wraps the whole id in
a fixed head and tail, so equal keys mean equal ids. Across bases, a prefix may
not contain a ``task`` or ``group`` segment (nor braces), so one store's keys
never fall under another store's ``task:``/``group:`` space.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskshed.errors import ConfigurationError

DEFAULT_PREFIX = "scheduler"

#: Segments a prefix may not contain: they would let one prefix's keys pass
#: for another prefix's task or group keys.
_RESERVED_SEGMENTS = frozenset({"task", "group"})


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if keys built on it can't overlap another prefix's, else raise."""
    if not isinstance(prefix, str) or not prefix:
        raise ConfigurationError("the Redis key prefix must be a non-empty string")
    if any(ch in prefix for ch in "{}"):
        raise ConfigurationError(
            "the Redis key prefix must not contain '{' or '}'; ask for a Cluster hash tag "
            "with hash_tag=True instead"
        )
    if any(ord(ch) < 32 or ch.isspace() for ch in prefix):
        raise ConfigurationError(
            "the Redis key prefix must not contain spaces or control characters"
        )
    reserved = _RESERVED_SEGMENTS.intersection(prefix.split(":"))
    if reserved:
        raise ConfigurationError(
            f"the Redis key prefix {prefix!r} must not have a segment named "
            f"{' or '.join(sorted(reserved))!r}: its keys could be taken for another "
            "prefix's task or group keys"
        )
    return prefix


@dataclass(frozen=True)
class KeySpace:
    """The keys of one store.

    ``base`` is what every key starts with; the Lua scripts receive it and
    append the same fixed parts that :meth:`task` and :meth:`group` use.
    """

    prefix: str = DEFAULT_PREFIX
    hash_tag: bool = False

    def __post_init__(self) -> None:
        check_prefix(self.prefix)

    @property
    def base(self) -> str:
        # With a hash tag every key hashes on the prefix alone, so one store's
        # keys live in one Cluster slot and a script may touch all of them.
        return f"{{{self.prefix}}}" if self.hash_tag else self.prefix

    @property
    def queue(self) -> str:
        return f"{self.base}:task_queue"

    @property
    def claims(self) -> str:
        return f"{self.base}:claims"

    def task(self, task_id: str) -> str:
        return f"{self.base}:task:{task_id}"

    def group(self, group_id: str) -> str:
        return f"{self.base}:group:{group_id}:tasks"

    def task_pattern(self) -> str:
        """A SCAN pattern matching exactly this store's task keys."""
        return f"{_glob_escape(self.base)}:task:*"

    def group_pattern(self) -> str:
        """A SCAN pattern matching this store's group keys."""
        return f"{_glob_escape(self.base)}:group:*:tasks"

    def task_id_of(self, key: str) -> str | None:
        head = f"{self.base}:task:"
        return key[len(head) :] if key.startswith(head) and len(key) > len(head) else None


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
