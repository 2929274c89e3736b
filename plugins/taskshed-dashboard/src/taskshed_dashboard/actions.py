"""``POST /actions``: pause, resume, run now, retry or remove tasks or a group.

The guard has checked the CSRF token (and read-only mode) before this runs.
Destructive and group-wide actions answer first with a confirmation; the
confirmed form posts again with ``confirm=yes``. htmx requests get a fragment
for the page's report area, plain form posts a small page with a way back.
"""

from __future__ import annotations

import logging

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from taskshed.errors import InvalidTaskError, TaskshedError
from taskshed.validation import check_identifier
from taskshed_dashboard.login import safe_next
from taskshed_dashboard.pages import dashboard_of, store_unavailable
from taskshed_dashboard.reading import describe_error
from taskshed_dashboard.steering import (
    ACTIONS,
    MAX_SELECTION,
    VERBS,
    Action,
    Target,
    needs_confirmation,
)

log = logging.getLogger("taskshed.dashboard")


class _Refused(Exception):
    """A request the dashboard won't act on; the message says why."""


async def act(request: Request) -> Response:
    dashboard = dashboard_of(request)
    if dashboard.read_only:
        return Response("This dashboard is read-only.", status_code=403)
    if (problem := await store_unavailable(request)) is not None:
        return problem
    form = await request.form(max_fields=MAX_SELECTION + 20)
    back = safe_next(str(form.get("back") or "/"))
    context: dict[str, object] = {"back": back}
    changed = False
    try:
        action, target = _parse(form)
        context.update(action=action, target=target, verb=VERBS[action])
        if needs_confirmation(action, target) and form.get("confirm") != "yes":
            preview = await dashboard.steering.preview(action, target)
            context["preview"] = preview
        else:
            report = await dashboard.steering.apply(action, target)
            context["report"] = report
            changed = bool(report.changed_count)
            # repr() keeps user-chosen ids and group names on one log line.
            log.info(
                "dashboard: %s on %s: %d changed",
                action,
                f"group {target.group_id!r}" if target.is_group else f"{len(target.task_ids)} ids",
                report.changed_count,
            )
    except _Refused as exc:
        context["problem"] = str(exc)
    except (TaskshedError, NotImplementedError) as exc:
        context["problem"] = f"Nothing could be done: {describe_error(exc)}"
    status = 400 if "problem" in context else 200
    htmx = request.headers.get("hx-request") == "true"
    response = dashboard.render(
        request,
        "_report.html" if htmx else "result.html",
        status_code=200 if htmx else status,
        page="",
        **{"preview": None, "report": None, "problem": None, **context},
    )
    if changed:
        # Tables and counts on the page listen for these and reload themselves (a task
        # page listens only for changes: after a removal there is nothing left to show).
        response.headers["HX-Trigger"] = (
            "taskshed-removed" if context["action"] == "remove" else "taskshed-changed"
        )
    return response


def _parse(form: FormData) -> tuple[Action, Target]:
    action = next((a for a in ACTIONS if a == form.get("action")), None)
    if action is None:
        raise _Refused(f"Unknown action {form.get('action')!r}.")
    scope = form.get("scope")
    getlist = form.getlist
    if scope == "group":
        group = getlist("group")[:1]
        try:
            group_id = check_identifier(group[0] if group else "", "group")
        except InvalidTaskError as exc:
            raise _Refused(str(exc)) from None
        return action, Target(group_id=group_id)
    if scope != "tasks":
        raise _Refused(f"Unknown scope {scope!r}.")
    ids = [value for value in getlist("ids") if isinstance(value, str)]
    if not ids:
        raise _Refused("Select at least one task first.")
    if len(ids) > MAX_SELECTION:
        raise _Refused(f"At most {MAX_SELECTION:,} tasks at a time.")
    try:
        checked = tuple(dict.fromkeys(check_identifier(i, "task id") for i in ids))
    except InvalidTaskError as exc:
        raise _Refused(str(exc)) from None
    return action, Target(task_ids=checked)
