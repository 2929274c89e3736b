"""The datastore contract: what every store plugin implements and guarantees.

The conformance suite in :mod:`taskshed.testing` checks each promise made in
these docstrings; docs/concepts.md names them G1-G6.

**Times.** Every ``datetime`` a method takes may be naive (local time, as in
TaskShed 0.10) or aware in any zone; stores convert with
:func:`taskshed.timeutils.to_utc`. Every ``datetime`` a method returns is
aware UTC. Decisions about what is due or whose lease has passed use the
``now`` the caller passes: workers pass the *store's* clock
(:meth:`DataStore.current_time` plus a measured offset), never their own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from taskshed.claims import Claim, Completion
from taskshed.listing import TaskPage, TaskQuery
from taskshed.models import Task, TaskExecutionTime
from taskshed.serializers.base import Serializer, encode_kwargs
from taskshed.serializers.json import JSONSerializer
from taskshed.timeutils import utcnow
from taskshed.validation import check_kwargs_size, check_tasks
from taskshed.worker_info import WorkerInfo

if TYPE_CHECKING:
    from taskshed.notifiers.base import Notifier


class DataStore(ABC):
    """Where tasks live. Every method is a coroutine and safe to call concurrently.

    **Lifecycle.** ``start()`` opens connections and may be called again
    (no-op); ``shutdown()`` closes them and may also be repeated, even while
    other calls are in flight (those may then fail with a
    :class:`~taskshed.errors.DataStoreError`, never hang).

    **Errors.** A method that can't reach its server raises
    :class:`~taskshed.errors.DataStoreError`; it never leaves a write
    half-done: each method is one transaction, pipeline or script. A write is
    retried internally only when the server guarantees it was not applied (a
    lost deadlock, a connection that failed before the first statement): an
    unknown outcome is reported, not replayed. Invalid input — a bad id, a
    wrong type — raises :class:`~taskshed.errors.InvalidTaskError` or
    :class:`~taskshed.errors.SerializationError` *before* anything is
    written; readers and removers raise ``InvalidTaskError`` for a bad id too.
    Records that can't be decoded are logged and skipped by readers; they are
    never deleted implicitly.

    **Claims.** Workers don't read due tasks and then delete them; they
    :meth:`acquire_tasks` (an atomic claim with a lease), run the callbacks,
    and :meth:`complete_tasks`. Every claim carries a token; an operation
    with a token that is no longer the task's current one changes nothing.
    A claim whose lease has passed (``lease_until <= now``) is free for any
    worker to take. A claim is *consistent* when it has both a token and a
    lease; a record with only one of the two (a crash of an older writer, a
    hand edit) counts as unclaimed everywhere — claimable at ``run_at``.

    **Failed tasks** (``failed_at`` set by a completion) are never claimed;
    they read back with ``paused=False``, pausing and resuming leaves them
    alone, :meth:`retry_tasks` re-queues them and the removers delete them.
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

    def sibling(self) -> DataStore | None:
        """A new, unstarted store on the same data with its own connections, or ``None``.

        The worker starts it on a thread of its own (with its own event loop)
        to renew leases and heartbeat while callbacks keep the main loop busy,
        so it must not share connections, locks or loop-bound objects with
        this store. ``None`` means the store can't make one: the worker then
        renews from its main loop, and a callback that blocks that loop for
        longer than a lease can lose its claim.
        """
        return None

    async def current_time(self) -> datetime:
        """The store's clock, as an aware UTC datetime.

        Servers answer with their own time (SQL ``UTC_TIMESTAMP(6)`` /
        ``clock_timestamp()``, Redis ``TIME``); an embedded store answers with
        the host's. Workers on hosts whose clocks disagree all measure their
        offset to this one clock, so they agree on what is due and whose lease
        has passed.
        """
        return utcnow()

    def create_notifier(self) -> Notifier | None:
        """A new notifier on the store's own cross-process channel, or ``None`` if it has none."""
        return None

    # ------------------------------------------------------------------ writing

    @abstractmethod
    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        """Store ``tasks`` in one atomic write (one transaction, pipeline or script).

        With ``replace_existing`` a task whose id exists replaces it whole,
        including its group membership and its run state (attempts, errors,
        failed), and any claim on the old one is dropped (the replacement is a
        new task). Without it existing tasks are left untouched and only new
        ids are written. Every field of :class:`~taskshed.models.Task` is
        stored except ``claimed_by``/``lease_until``, which only the claim
        methods set.

        Raises :class:`InvalidTaskError` / :class:`SerializationError` for bad
        input, naming the task; nothing is written then.
        """

    @abstractmethod
    async def update_execution_times(self, tasks: Iterable[TaskExecutionTime]) -> None:
        """Set ``run_at`` of existing tasks, atomically; drops any claim and ``occurrence_at``.

        Raises :class:`~taskshed.errors.TaskNotFoundError` if an id is unknown
        (and then changes nothing). A failed task stays failed.
        """

    @abstractmethod
    async def update_tasks_paused_status(
        self, task_ids: Iterable[str], paused: bool, *, strict: bool = False
    ) -> set[str]:
        """Pause or resume tasks by id; return the ids that exist.

        Pausing stamps ``paused_at`` with the current time unless the task is
        already paused; resuming clears it and leaves ``run_at`` as it was.
        Unknown ids are skipped and the others still change (TaskShed 0.10's
        behaviour: a task removed meanwhile must not block the rest); with
        ``strict`` an unknown id raises :class:`~taskshed.errors.TaskNotFoundError`
        and nothing changes. A claim is not revoked by a pause. Failed tasks
        are found but left as they are.
        """

    @abstractmethod
    async def update_group_paused_status(self, group_id: str, paused: bool) -> int:
        """Pause or resume every task of a group; return how many tasks the group has.

        A missing group is no error (0). Failed tasks are left as they are.
        """

    @abstractmethod
    async def remove_tasks(self, task_ids: Iterable[str]) -> set[str]:
        """Delete tasks by id; unknown ids are ignored. Returns the ids that were deleted."""

    @abstractmethod
    async def remove_all_tasks(self) -> None:
        """Delete every task of this store (its prefix/table only)."""

    @abstractmethod
    async def remove_group_tasks(self, group_id: str) -> int:
        """Delete every task of a group; return how many were deleted."""

    @abstractmethod
    async def retry_tasks(self, task_ids: Iterable[str], run_at: datetime) -> set[str]:
        """Re-queue failed tasks: due at ``run_at``, ``attempts`` 0, no longer failed.

        ``last_error`` is kept (it says why the task had failed). Ids that are
        unknown or not failed are ignored. Returns the ids re-queued.
        """

    # ------------------------------------------------------------------ reading

    @abstractmethod
    async def fetch_due_tasks(self, dt: datetime) -> list[Task]:
        """Unpaused, unfailed tasks with ``run_at <= dt`` (claimed or not), earliest first. Read-only."""

    @abstractmethod
    async def fetch_next_wakeup(
        self, *, callbacks: Collection[str] | None = None
    ) -> datetime | None:
        """The earliest instant at which :meth:`acquire_tasks` could return a task.

        That is the minimum, over unpaused unfailed tasks (whose callback is in
        ``callbacks``, when given), of ``run_at`` for unclaimed tasks and of
        ``max(run_at, lease_until)`` for consistently claimed ones; ``None``
        when there is no such task. A record held aside (undecodable) appears
        at the end of its hold, ``now + SET_ASIDE_FOR``.
        """

    @abstractmethod
    async def fetch_tasks(self, task_ids: Iterable[str]) -> list[Task]:
        """The tasks with these ids, in the order the ids were given; unknown ids are skipped.

        Tasks come with their run state and claim (``claimed_by``,
        ``lease_until``; ``None`` when unclaimed).
        """

    @abstractmethod
    async def fetch_group_tasks(self, group_id: str) -> list[Task]:
        """Every task of a group, ordered by ``(run_at, task_id)``."""

    @abstractmethod
    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        """One page of the tasks matching ``query``, ordered by ``(run_at, task_id)``.

        At most ``query.limit`` tasks, after ``query.after`` when given;
        ``next_cursor`` is set when more may follow. ``state`` filters are
        judged at ``query.now`` (default: :meth:`current_time`). The cost of a
        page must not grow with the number of tasks stored outside it beyond
        what the store's indexes allow (see docs/plugins.md).
        """

    @abstractmethod
    async def count_tasks(self, query: TaskQuery, *, limit: int | None = None) -> int:
        """How many tasks match ``query`` (its ``limit`` and ``after`` ignored).

        With ``limit``, counting may stop there: the answer is then
        ``min(true count, limit)``, so a dashboard can show "10,000+" cheaply.
        """

    # ------------------------------------------------------------------ claims

    @abstractmethod
    async def acquire_tasks(
        self,
        *,
        worker_id: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        callbacks: Collection[str] | None = None,
    ) -> list[Claim]:
        """Atomically claim up to ``limit`` due tasks for ``worker_id``, earliest first.

        A task is claimable when it is unpaused and not failed, ``run_at <=
        now``, its callback is in ``callbacks`` (when given), and it is
        unclaimed (or inconsistently claimed) or its lease has passed
        (``lease_until <= now``). Claimed tasks get a fresh token and
        ``lease_until``; no other caller, in any process, can claim them until
        then (G1). The claim's task carries ``claimed_by=worker_id``. A record
        that can't be decoded is logged, held aside until ``now +
        SET_ASIDE_FOR`` and not returned; it stays stored. With ``callbacks``
        the cost stays proportional to the batch, however many tasks of other
        callbacks are stored or due.
        """

    @abstractmethod
    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        """Apply the outcome of runs (see :class:`~taskshed.claims.Completion`).

        Returns the ids whose token still held. A completion whose token is
        stale (the lease passed and another worker took the task, or the task
        was replaced, re-timed or removed) changes nothing (G2); tokens are
        checked per ``(task_id, token)`` pair, so two completions for one task
        id apply only the one whose token is current; of two with the current
        token, the first applies (it spends the claim).
        """

    @abstractmethod
    async def extend_leases(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        """Move the lease of still-held claims to ``lease_until``; return their ids."""

    async def confirm_claims(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        """The ids of ``claims`` that are still held, and whose task is unpaused and not failed.

        Workers call it just before starting a task they claimed ahead of its
        time (prefetch), so that a task paused, removed, re-timed or replaced
        in the meantime doesn't start. It sits between a task's due time and
        its start, so it should be one quick read. A store may also move the
        kept claims' leases to ``lease_until`` (this default does, and so do
        the memory and Redis stores); workers don't rely on it, since their
        heartbeat renews every held lease.
        """
        if not claims:
            return set()
        tasks = {task.task_id: task for task in await self.fetch_tasks(c.task_id for c in claims)}
        runnable = [
            claim
            for claim in claims
            if (task := tasks.get(claim.task_id)) is not None
            and not task.paused
            and task.failed_at is None
        ]
        return await self.extend_leases(runnable, lease_until) if runnable else set()

    @abstractmethod
    async def release_tasks(self, claims: Sequence[Claim]) -> set[str]:
        """Give still-held claims up without running them: the tasks are claimable at once."""

    # ------------------------------------------------------------------ worker registry

    @abstractmethod
    async def register_worker(self, info: WorkerInfo) -> None:
        """Record (or refresh) a live worker; it is listed until ``info.expires_at``."""

    @abstractmethod
    async def remove_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped (unknown ids are ignored)."""

    @abstractmethod
    async def fetch_workers(self, now: datetime) -> list[WorkerInfo]:
        """Workers whose registration has not expired at ``now``, by ``worker_id``.

        Expired records may be deleted by this call or any later one.
        """

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
