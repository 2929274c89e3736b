"""The pages: overview, task list, task, groups, workers; and the error page of a failing store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from taskshed.errors import InvalidTaskError
from taskshed.listing import TaskCursor, TaskQuery
from taskshed.models import TASK_STATES, task_state
from taskshed.validation import check_identifier
from taskshed_dashboard.fire_times import upcoming_fire_times
from taskshed_dashboard.formatting import href
from taskshed_dashboard.reading import count, describe_error, read_overview, section, state_counts

if TYPE_CHECKING:
    from taskshed_dashboard.app import Dashboard

#: Page sizes the task list offers.
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


def dashboard_of(request: Request) -> Dashboard:
    return request.app.state.dashboard


async def store_unavailable(request: Request) -> Response | None:
    """``None`` when the store is up, else the page saying why it isn't."""
    dashboard = dashboard_of(request)
    try:
        await dashboard.ensure_started()
    except Exception as exc:
        return dashboard.render(
            request,
            "error.html",
            status_code=503,
            page="",
            title="Datastore unavailable",
            message=f"The datastore could not be started: {describe_error(exc)}",
        )
    return None


# ---------------------------------------------------------------------- overview


async def overview(request: Request) -> Response:
    if (problem := await store_unavailable(request)) is not None:
        return problem
    dashboard = dashboard_of(request)
    data = await read_overview(dashboard.store)
    return dashboard.render(request, "overview.html", page="overview", ov=data, now=data.now)


# ---------------------------------------------------------------------- task list


class Filters:
    """The task list's filters, read from the query string; bad values become messages."""

    def __init__(self, params: QueryParams) -> None:
        self.problems: list[str] = []
        self.group = self._identifier(params.get("group", ""), "group")
        self.callback = self._identifier(params.get("callback", ""), "callback")
        self.worker = self._identifier(params.get("worker", ""), "worker")
        state = params.get("state", "")
        if state and state not in TASK_STATES:
            self.problems.append(f"Unknown state {state!r}; showing every state.")
            state = ""
        self.state = state
        self.due_after_text = params.get("due_after", "")
        self.due_before_text = params.get("due_before", "")
        self.due_after = self._time(self.due_after_text, "due from")
        self.due_before = self._time(self.due_before_text, "due before")
        self.size = DEFAULT_PAGE_SIZE
        if params.get("size", "").isdigit() and int(params["size"]) in PAGE_SIZES:
            self.size = int(params["size"])
        self.after_text = params.get("after", "")
        self.after: TaskCursor | None = None
        if self.after_text:
            try:
                self.after = TaskCursor.decode(self.after_text)
            except InvalidTaskError:
                self.problems.append(
                    "That page link is not valid any more; showing the first page."
                )
                self.after_text = ""

    def _identifier(self, value: str, what: str) -> str:
        if not value:
            return ""
        try:
            return check_identifier(value, what)
        except InvalidTaskError as exc:
            self.problems.append(f"{exc} The {what} filter is ignored.")
            return ""

    def _time(self, value: str, what: str) -> datetime | None:
        """A ``datetime-local`` value, read as UTC (the form says so)."""
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.problems.append(f"{what}: {value!r} is not a date and time; ignored.")
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def query(self, now: datetime, *, paged: bool = True) -> TaskQuery:
        return TaskQuery(
            group_id=self.group or None,
            callback=self.callback or None,
            claimed_by=self.worker or None,
            state=self.state or None,  # type: ignore[arg-type]
            due_after=self.due_after,
            due_before=self.due_before,
            now=now,
            limit=self.size,
            after=self.after if paged else None,
        )

    def params(self, **overrides: Any) -> dict[str, Any]:
        """The query string of this view (for links), with ``overrides``."""
        values = {
            "group": self.group,
            "callback": self.callback,
            "worker": self.worker,
            "state": self.state,
            "due_after": self.due_after_text if self.due_after else "",
            "due_before": self.due_before_text if self.due_before else "",
            "size": self.size if self.size != DEFAULT_PAGE_SIZE else "",
            "after": self.after_text,
        }
        values.update(overrides)
        return values

    @property
    def active(self) -> bool:
        return any(
            (self.group, self.callback, self.worker, self.state, self.due_after, self.due_before)
        )


async def task_list(request: Request) -> Response:
    if (problem := await store_unavailable(request)) is not None:
        return problem
    dashboard = dashboard_of(request)
    store = dashboard.store
    root = request.scope.get("root_path", "")
    search = request.query_params.get("id", "")
    filters = Filters(request.query_params)
    if search:
        try:
            found = await store.fetch_tasks([check_identifier(search, "task id")])
        except InvalidTaskError as exc:
            filters.problems.append(str(exc))
        else:
            if found:
                return RedirectResponse(href(root, "/task", {"id": search}), status_code=303)
            filters.problems.append(f"No task has the id {search!r}.")
    now = await store.current_time()
    presets = _due_presets(now)
    listing = await section(store.list_tasks(filters.query(now)))
    total = await section(count(store, filters.query(now, paged=False)))
    states = {}
    if listing.value is not None:
        states = {task.task_id: task_state(task, now) for task in listing.value.tasks}
    return dashboard.render(
        request,
        "tasks.html",
        page="tasks",
        now=now,
        filters=filters,
        listing=listing,
        total=total,
        states=states,
        search=search,
        page_sizes=PAGE_SIZES,
        task_states=TASK_STATES,
        presets=presets,
    )


def _due_presets(now: datetime) -> list[tuple[str, dict[str, str]]]:
    """Ready-made due windows, as the form's datetime-local values (UTC)."""

    def local(value: datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M")

    return [
        ("Overdue", {"due_before": local(now + timedelta(minutes=1))}),
        ("Next hour", {"due_after": local(now), "due_before": local(now + timedelta(hours=1))}),
        ("Next 24 h", {"due_after": local(now), "due_before": local(now + timedelta(days=1))}),
    ]


# ---------------------------------------------------------------------- one task


async def task_detail(request: Request) -> Response:
    if (problem := await store_unavailable(request)) is not None:
        return problem
    dashboard = dashboard_of(request)
    store = dashboard.store
    task_id = request.query_params.get("id", "")
    try:
        check_identifier(task_id, "task id")
    except InvalidTaskError as exc:
        return _not_found(request, str(exc))
    tasks = await store.fetch_tasks([task_id])
    if not tasks:
        return _not_found(request, f"No task has the id {task_id!r} (removed, or never added).")
    task = tasks[0]
    if dashboard.hide_kwargs:
        # Gone before the template sees it: nothing can render what isn't there.
        task = replace(task, kwargs={})
    now = await store.current_time()
    workers = await section(store.fetch_workers(now))
    holder = None
    if task.claimed_by is not None and workers.value is not None:
        holder = next((w for w in workers.value if w.worker_id == task.claimed_by), None)
    return dashboard.render(
        request,
        "task.html",
        page="tasks",
        now=now,
        task=task,
        state=task_state(task, now),
        fire_times=upcoming_fire_times(task),
        holder=holder,
        workers_problem=workers.problem,
    )


def _not_found(request: Request, message: str) -> Response:
    return dashboard_of(request).render(
        request,
        "error.html",
        status_code=404,
        page="tasks",
        title="Task not found",
        message=message,
    )


# ---------------------------------------------------------------------- groups


async def groups(request: Request) -> Response:
    if (problem := await store_unavailable(request)) is not None:
        return problem
    dashboard = dashboard_of(request)
    store = dashboard.store
    now = await store.current_time()
    problems: list[str] = []
    group = request.query_params.get("group", "")
    if group:
        try:
            check_identifier(group, "group")
        except InvalidTaskError as exc:
            problems.append(str(exc))
            group = ""
    counts = tasks = None
    if group:
        counts = await section(state_counts(store, now, group))
        tasks = await section(store.list_tasks(TaskQuery(group_id=group, now=now, limit=20)))
    return dashboard.render(
        request,
        "groups.html",
        page="groups",
        now=now,
        group=group,
        counts=counts,
        tasks=tasks,
        states={
            t.task_id: task_state(t, now)
            for t in (tasks.value.tasks if tasks and tasks.value else [])
        },
        problems=problems,
        task_states=TASK_STATES,
    )


# ---------------------------------------------------------------------- workers


async def workers(request: Request) -> Response:
    if (problem := await store_unavailable(request)) is not None:
        return problem
    dashboard = dashboard_of(request)
    now = await dashboard.store.current_time()
    listed = await section(dashboard.store.fetch_workers(now))
    return dashboard.render(request, "workers.html", page="workers", now=now, workers=listed)


# ---------------------------------------------------------------------- errors


async def store_error(request: Request, exc: Exception) -> Response:
    """A store that fails mid-page (server down, say): a 503 page, credentials masked."""
    return dashboard_of(request).render(
        request,
        "error.html",
        status_code=503,
        page="",
        title="Datastore unavailable",
        message=f"The datastore did not answer: {describe_error(exc)}",
    )
