"""The datastore contract: what every store plugin implements and guarantees.

The conformance suite in :mod:`taskshed.testing` checks each promise made in
these docstrings; DESIGN.md names them G1-G6.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime

from taskshed.claims import Claim, Completion
from taskshed.models import Task, TaskExecutionTime
from taskshed.serializers.base import Serializer, encode_kwargs
from taskshed.serializers.json import JSONSerializer
from taskshed.validation import check_kwargs_size, check_tasks


class DataStore(ABC):
    """Where tasks live. Every method is a coroutine and safe to call concurrently.

    **Lifecycle.** ``start()`` opens connections and may be called again
    (no-op); ``shutdown()`` closes them and may also be repeated.

    **Errors.** A method that can't reach its server raises an exception
    (ideally :class:`~taskshed.errors.DataStoreError`); it never leaves a
    write half-done: each method is one transaction, pipeline or script.
    Invalid input raises :class:`~taskshed.errors.InvalidTaskError` or
    :class:`~taskshed.errors.SerializationError` *before* anything is written.
    Records that can't be decoded are logged and skipped by readers; they
    are never deleted implicitly.

    **Claims.** Workers don't read due tasks and then delete them; they
    :meth:`acquire_tasks` (an atomic claim with a lease), run the callbacks,
    and :meth:`complete_tasks`. Every claim carries a token; an operation
    with a token that is no longer the task's current one changes nothing.
    A claim whose lease has passed is free for any worker to take.
    """

    #: Turns kwargs into stored text. Stores take it in ``__init__``.
    serializer: Serializer = JSONSerializer()

    # ------------------------------------------------------------------ lifecycle

    @abstractmethod
    async def start(self) -> None:
        """Open connections (idempotent)."""

    @abstractmethod
    async def shutdown(self) -> None:
        """Close connections (idempotent). Stored tasks stay stored."""

    # ------------------------------------------------------------------ writing

    @abstractmethod
    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        """Store ``tasks`` in one atomic write (one transaction, pipeline or script).

        With ``replace_existing`` a task whose id exists replaces it whole,
        including its group membership, and any claim on the old one is
        dropped (the replacement is a new task). Without it existing tasks are
        left untouched and only new ids are written.

        Raises :class:`InvalidTaskError` / :class:`SerializationError` for bad
        input, naming the task; nothing is written then.
        """

    @abstractmethod
    async def update_execution_times(self, tasks: Iterable[TaskExecutionTime]) -> None:
        """Set ``run_at`` of existing tasks, atomically; drops any claim on them.

        Raises :class:`~taskshed.errors.TaskNotFoundError` if an id is unknown
        (and then changes nothing).
        """

    @abstractmethod
    async def update_tasks_paused_status(self, task_ids: Iterable[str], paused: bool) -> None:
        """Pause or resume tasks by id.

        Pausing stamps ``paused_at`` with the current time unless the task is
        already paused; resuming clears it and leaves ``run_at`` as it was.
        Raises :class:`~taskshed.errors.TaskNotFoundError` for an unknown id
        (and then changes nothing). A claim is not revoked by a pause.
        """

    @abstractmethod
    async def update_group_paused_status(self, group_id: str, paused: bool) -> None:
        """Pause or resume every task of a group (a missing group is no error)."""

    @abstractmethod
    async def remove_tasks(self, task_ids: Iterable[str]) -> None:
        """Delete tasks by id; unknown ids are ignored."""

    @abstractmethod
    async def remove_all_tasks(self) -> None:
        """Delete every task of this store (its prefix/table only)."""

    @abstractmethod
    async def remove_group_tasks(self, group_id: str) -> None:
        """Delete every task of a group."""

    # ------------------------------------------------------------------ reading

    @abstractmethod
    async def fetch_due_tasks(self, dt: datetime) -> list[Task]:
        """Unpaused tasks with ``run_at <= dt`` (claimed or not), earliest first. Read-only."""

    @abstractmethod
    async def fetch_next_wakeup(self) -> datetime | None:
        """The earliest instant at which :meth:`acquire_tasks` could return a task.

        That is the minimum, over unpaused tasks, of ``run_at`` for unclaimed
        tasks and of ``max(run_at, lease_until)`` for claimed ones; ``None``
        when there is no unpaused task.
        """

    @abstractmethod
    async def fetch_tasks(self, task_ids: Iterable[str]) -> list[Task]:
        """The tasks with these ids; unknown ids are skipped."""

    @abstractmethod
    async def fetch_group_tasks(self, group_id: str) -> list[Task]:
        """Every task of a group."""

    # ------------------------------------------------------------------ claims

    @abstractmethod
    async def acquire_tasks(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Claim]:
        """Atomically claim up to ``limit`` due tasks for ``worker_id``, earliest first.

        A task is claimable when it is unpaused, ``run_at <= now``, and either
        unclaimed or its lease has passed (``lease_until <= now``). Claimed
        tasks get a fresh token and ``lease_until``; no other caller, in any
        process, can claim them until then (G1). A record that can't be
        decoded is logged, held aside until ``now + SET_ASIDE_FOR`` and not
        returned; it stays stored.
        """

    @abstractmethod
    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        """Apply the outcome of runs; return the ids where the token still held.

        ``next_run_at is None`` deletes the task (a one-off that finished);
        otherwise ``run_at`` moves there and the claim is cleared. A completion
        whose token is stale (the lease passed and another worker took the
        task, or the task was replaced or re-timed) changes nothing (G2).
        """

    @abstractmethod
    async def extend_leases(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        """Move the lease of still-held claims to ``lease_until``; return their ids."""

    @abstractmethod
    async def release_tasks(self, claims: Sequence[Claim]) -> set[str]:
        """Give still-held claims up without running them: the tasks are claimable at once."""

    # ------------------------------------------------------------------ shared helpers

    def prepare_tasks(self, tasks: Iterable[Task]) -> list[tuple[Task, str]]:
        """Validate and encode every task before a store writes any of them.

        Returns ``(task, encoded_kwargs)`` pairs; a later task with the same id
        replaces an earlier one in the same call.
        """
        return [
            (task, check_kwargs_size(task, encode_kwargs(self.serializer, task)))
            for task in check_tasks(tasks)
        ]
