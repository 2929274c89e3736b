"""Key names: the 0.10 layout under a prefix, built so that no id can reach another's keys.

Every key is ``<base>:<rest>`` where ``<base>`` is the prefix (or ``{prefix}`` when
a Cluster hash tag is asked for) and ``<rest>`` is one of::

    task_queue                    sorted set: the schedule
    task:<task id>                hash: one task
    group:<group id>:tasks        set: the ids of one group
  and ours, which 0.10 neither writes nor reads:
    claims                        sorted set: the tasks currently claimed, by run_at
    holders                       hash: task id -> the worker holding its claim
    runs                          sorted set: every task by run_at (listing)
    failed                        sorted set: the failed tasks by run_at
    paused                        sorted set: the paused tasks by run_at
    callback:<name>:due           sorted set: a callback's claimable tasks (routing)
    callback:<name>:runs          sorted set: all of a callback's tasks by run_at
    workers                       hash: worker id -> its registration (JSON)
    worker_expiry                 sorted set: worker id by expiry
    once:<call id>                string, expiring after a minute: a run-once script ran

Why ids can't collide: within one base, ``task:``, ``group:`` and ``callback:``
keys and the fixed names differ in their first characters after the base; a
task key is its fixed head followed by the whole id, and group and callback
keys wrap the whole id or name in a fixed head and tail, so equal keys mean
equal ids. Across bases, a prefix may not contain a ``task``, ``group`` or
``callback`` segment (nor braces), so one store's keys never fall under
another store's ``task:``/``group:``/``callback:`` space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from taskshed.errors import ConfigurationError

DEFAULT_PREFIX = "scheduler"

#: The end of a call-id key, ``<base>:once:<32 hex digits>`` (what :meth:`KeySpace.once_pattern`
#: scans for): tools that compare a store's keys leave these expiring markers out.
CALL_ID_KEY = re.compile(r":once:[0-9a-f]{32}$")

#: Segments a prefix may not contain: they would let one prefix's keys pass
#: for another prefix's task or group keys.
_RESERVED_SEGMENTS = frozenset({"task", "group", "callback"})


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
            "prefix's task, group or callback keys"
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

    @property
    def runs(self) -> str:
        return f"{self.base}:runs"

    @property
    def failed(self) -> str:
        return f"{self.base}:failed"

    @property
    def paused(self) -> str:
        return f"{self.base}:paused"

    @property
    def holders(self) -> str:
        return f"{self.base}:holders"

    @property
    def workers(self) -> str:
        return f"{self.base}:workers"

    @property
    def worker_expiry(self) -> str:
        return f"{self.base}:worker_expiry"

    def fixed(self) -> tuple[str, ...]:
        """Every key of the store whose name does not depend on an id."""
        return (self.queue, self.claims, self.runs, self.failed, self.paused, self.holders)

    def due(self, callback: str) -> str:
        return f"{self.base}:callback:{callback}:due"

    def callback_runs(self, callback: str) -> str:
        return f"{self.base}:callback:{callback}:runs"

    def callback_pattern(self) -> str:
        """A SCAN pattern matching this store's callback index keys."""
        return f"{_glob_escape(self.base)}:callback:*"

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

    def once_pattern(self) -> str:
        """A SCAN pattern matching this store's call-id keys (``once:`` and 32 hex digits).

        They remember, for a minute, that a run-once script ran
        (:mod:`taskshed_redis.retries`). The pattern is exact, so that it can't
        match another prefix's keys (``<base>:once`` as a prefix has ``task:``
        keys, and no hex digit string is ``task``).
        """
        return f"{_glob_escape(self.base)}:once:{'[0-9a-f]' * 32}"

    def task_id_of(self, key: str) -> str | None:
        head = f"{self.base}:task:"
        return key[len(head) :] if key.startswith(head) and len(key) > len(head) else None


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
