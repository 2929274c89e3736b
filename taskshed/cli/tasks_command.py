"""``taskshed tasks``: list, show, pause, resume, remove, run now and retry stored tasks."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from taskshed.cli.options import add_store_options, positive_int
from taskshed.cli.output import duration, local_time, table
from taskshed.cli.session import scheduler_session
from taskshed.cli.times import parse_when
from taskshed.errors import ConfigurationError
from taskshed.listing import MAX_PAGE_SIZE, TaskCursor, TaskQuery
from taskshed.models import TASK_STATES, Task, task_state
from taskshed.schedulers import AsyncScheduler

COMMAND = "taskshed tasks"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tasks",
        help="list, show, pause, resume, remove, run now or retry stored tasks",
        description="Look at and steer the tasks in the configured datastore. Every change "
        "says which ids it changed and which it did not find (exit status 1 if any was not "
        "found).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="a page of tasks, filtered, earliest first")
    add_store_options(listing)
    listing.add_argument("--group", help="only this group")
    listing.add_argument("--callback", help="only tasks of this callback")
    listing.add_argument("--state", choices=TASK_STATES, help="only tasks in this state")
    listing.add_argument("--paused", action="store_true", help="only paused tasks (--state paused)")
    listing.add_argument("--failed", action="store_true", help="only failed tasks (--state failed)")
    listing.add_argument("--claimed-by", metavar="WORKER", help="only tasks this worker holds")
    listing.add_argument(
        "--due-before", type=parse_when, metavar="TIME", help="run_at before TIME (ISO, now, +2h)"
    )
    listing.add_argument(
        "--due-after", type=parse_when, metavar="TIME", help="run_at at or after TIME"
    )
    listing.add_argument(
        "--limit",
        type=positive_int,
        default=50,
        help=f"tasks per page (50, at most {MAX_PAGE_SIZE})",
    )
    listing.add_argument("--after", metavar="CURSOR", help="the page after this cursor")
    listing.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    listing.set_defaults(func=run_list)

    show = actions.add_parser("show", help="every field of tasks, kwargs and claim included")
    add_store_options(show)
    show.add_argument("task_ids", nargs="+", metavar="ID")
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    show.set_defaults(func=run_show)

    for name, helptext in (
        ("pause", "pause tasks (by id or group): they are not run until resumed"),
        ("resume", "resume paused tasks (by id or group)"),
    ):
        sub = actions.add_parser(name, help=helptext)
        add_store_options(sub)
        _add_targets(sub)
        sub.set_defaults(func=run_pause if name == "pause" else run_resume)

    remove = actions.add_parser("remove", help="remove tasks (by id or group), for good")
    add_store_options(remove)
    _add_targets(remove)
    remove.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")
    remove.set_defaults(func=run_remove)

    run_now = actions.add_parser("run-now", help="make tasks due now")
    add_store_options(run_now)
    run_now.add_argument("task_ids", nargs="+", metavar="ID")
    run_now.add_argument(
        "--force",
        action="store_true",
        help="move a task a worker holds too (its claim is dropped: it may run twice)",
    )
    run_now.set_defaults(func=run_run_now)

    retry = actions.add_parser("retry", help="re-queue failed tasks, due now, attempts reset")
    add_store_options(retry)
    retry.add_argument("task_ids", nargs="+", metavar="ID")
    retry.set_defaults(func=run_retry)


def _add_targets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task_ids", nargs="*", metavar="ID")
    parser.add_argument("--group", help="every task of this group instead of ids")


def _session(args: argparse.Namespace, body: Callable[[AsyncScheduler], Awaitable[int]]) -> int:
    async def main() -> int:
        async with scheduler_session(args, COMMAND) as scheduler:
            return await body(scheduler)

    return asyncio.run(main())


# ---------------------------------------------------------------- list and show


def query_from_args(args: argparse.Namespace) -> TaskQuery:
    states = {s for s, on in (("paused", args.paused), ("failed", args.failed)) if on}
    if args.state:
        states.add(args.state)
    if len(states) > 1:
        raise ConfigurationError(f"choose one state, not {', '.join(sorted(states))}")
    return TaskQuery(
        group_id=args.group,
        callback=args.callback,
        state=next(iter(states)) if states else None,  # type: ignore[arg-type]
        claimed_by=args.claimed_by,
        due_before=args.due_before,
        due_after=args.due_after,
        limit=min(args.limit, MAX_PAGE_SIZE),
        after=TaskCursor.decode(args.after) if args.after else None,
    )


def run_list(args: argparse.Namespace) -> int:
    query = query_from_args(args)

    async def body(scheduler: AsyncScheduler) -> int:
        now = await scheduler.datastore.current_time()
        page = await scheduler.list_tasks(dataclasses.replace(query, now=now))
        cursor = page.next_cursor.encode() if page.next_cursor else None
        if args.json:
            document = {
                "tasks": [task_record(task, now) for task in page.tasks],
                "next_cursor": cursor,
            }
            print(json.dumps(document, indent=2, default=str))
            return 0
        if not page.tasks:
            print("no tasks match")
            return 0
        rows = [
            ("ID", "CALLBACK", "GROUP", "STATE", "RUN AT", "SCHEDULE", "ATTEMPTS", "CLAIMED BY")
        ]
        rows += [
            (
                task.task_id,
                task.callback,
                task.group_id or "-",
                task_state(task, now),
                local_time(task.run_at),
                schedule(task),
                str(task.attempts),
                task.claimed_by or "-",
            )
            for task in page.tasks
        ]
        table(rows)
        print(f"\n{len(page.tasks)} task(s)" + ("" if cursor else ", the last page"))
        if cursor:
            print(f"next page: --after {cursor}")
        return 0

    return _session(args, body)


def schedule(task: Task) -> str:
    if task.run_type == "cron":
        return f"cron {task.cron}" + (f" ({task.timezone})" if task.timezone else "")
    if task.run_type == "recurring" and task.interval is not None:
        return f"every {duration(task.interval)}"
    return "once"


def task_record(task: Task, now: datetime) -> dict[str, Any]:
    """Every field of ``task`` as JSON-ready values (times ISO 8601 UTC, durations in seconds)."""
    record: dict[str, Any] = {"state": task_state(task, now)}
    for field in dataclasses.fields(task):
        value = getattr(task, field.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, timedelta):
            value = value.total_seconds()
        record[field.name] = value
    return record


def run_show(args: argparse.Namespace) -> int:
    async def body(scheduler: AsyncScheduler) -> int:
        now = await scheduler.datastore.current_time()
        found = {t.task_id: t for t in await scheduler.fetch_tasks(task_ids=args.task_ids)}
        workers = {w.worker_id: w for w in await scheduler.fetch_workers()}
        missing = [task_id for task_id in args.task_ids if task_id not in found]
        tasks = [found[task_id] for task_id in args.task_ids if task_id in found]
        if args.json:
            print(json.dumps([task_record(t, now) for t in tasks], indent=2, default=str))
        for i, task in enumerate([] if args.json else tasks):
            if i:
                print()
            _print_task(task, now, workers)
        if missing:
            print(f"not found: {', '.join(missing)}", file=sys.stderr)
        return 1 if missing else 0

    return _session(args, body)


def _print_task(task: Task, now: datetime, workers: dict[str, Any]) -> None:
    lines: list[tuple[str, str]] = [
        ("id", task.task_id),
        ("state", task_state(task, now)),
        ("callback", task.callback),
        ("group", task.group_id or "-"),
        ("run at", f"{local_time(task.run_at)} ({_relative(task.run_at, now)})"),
        ("schedule", schedule(task)),
    ]
    if task.occurrence_at is not None:
        lines.append(("occurrence of", local_time(task.occurrence_at)))
    if task.run_type != "once":
        lines += [
            ("coalesce", "yes" if task.coalesce else "no"),
            ("ends at", local_time(task.end_at)),
            ("jitter", duration(task.jitter)),
        ]
    lines += [
        ("paused", f"yes, since {local_time(task.paused_at)}" if task.paused else "no"),
        ("max attempts", str(task.max_attempts) if task.max_attempts else "the worker's default"),
        ("retry backoff", duration(task.retry_backoff) if task.retry_backoff else "the worker's"),
        ("timeout", duration(task.timeout) if task.timeout else "the worker's"),
        ("attempts", str(task.attempts)),
        ("last run at", local_time(task.last_run_at)),
        ("failed at", local_time(task.failed_at)),
        ("last error", task.last_error or "-"),
        ("claim", _claim(task, now, workers)),
    ]
    width = max(len(label) for label, _ in lines) + 1
    for label, value in lines:
        print(f"{label + ':':<{width}} {value}")
    print("kwargs:")
    text = json.dumps(task.kwargs, indent=2, sort_keys=True, default=repr, ensure_ascii=False)
    for line in text.splitlines():
        print(f"  {line}")


def _relative(when: datetime, now: datetime) -> str:
    delta = when - now
    return f"in {duration(delta)}" if delta > timedelta(0) else f"{duration(-delta)} ago"


def _claim(task: Task, now: datetime, workers: dict[str, Any]) -> str:
    if task.claimed_by is None or task.lease_until is None:
        return "none"
    live = task.lease_until > now
    text = f"held by {task.claimed_by}, lease until {local_time(task.lease_until)}"
    text += "" if live else " (expired: any worker may take it)"
    worker = workers.get(task.claimed_by)
    if worker is not None:
        text += f"; worker alive on {worker.host} pid {worker.pid}"
    elif live:
        text += "; that worker is not registered as alive"
    return text


# ---------------------------------------------------------------- changes


def _ids(args: argparse.Namespace) -> list[str]:
    """The ids named, without repeats (order kept)."""
    return list(dict.fromkeys(args.task_ids))


def _check_targets(args: argparse.Namespace) -> None:
    if bool(args.task_ids) == bool(args.group):
        raise ConfigurationError("name task ids or --group GROUP (one of the two)")


def _say(label: str, ids: Iterable[str]) -> None:
    ids = list(ids)
    if ids:
        print(f"{label} ({len(ids)}): {', '.join(ids)}")


def run_pause(args: argparse.Namespace) -> int:
    return _set_paused(args, paused=True)


def run_resume(args: argparse.Namespace) -> int:
    return _set_paused(args, paused=False)


def _set_paused(args: argparse.Namespace, *, paused: bool) -> int:
    _check_targets(args)
    verb = "paused" if paused else "resumed"

    async def body(scheduler: AsyncScheduler) -> int:
        if args.group:
            return await _set_group_paused(scheduler, args.group, paused=paused)
        ids = _ids(args)
        found = {t.task_id: t for t in await scheduler.fetch_tasks(task_ids=ids)}
        change = [
            i for i in ids if i in found and not found[i].failed and found[i].paused != paused
        ]
        if change and paused:
            await scheduler.pause_tasks(task_ids=change)
        elif change:
            await scheduler.resume_tasks(task_ids=change)
        _say(verb, change)
        _say(
            f"already {verb}",
            [i for i in ids if i in found and not found[i].failed and found[i].paused == paused],
        )
        _say(
            "failed, left as they are (taskshed tasks retry)",
            [i for i in ids if i in found and found[i].failed],
        )
        missing = [i for i in ids if i not in found]
        _say("not found", missing)
        return 1 if missing else 0

    return _session(args, body)


async def _set_group_paused(scheduler: AsyncScheduler, group: str, *, paused: bool) -> int:
    store = scheduler.datastore
    total = await store.count_tasks(TaskQuery(group_id=group))
    if not total:
        print(f"group {group!r} has no tasks")
        return 1
    already = await store.count_tasks(TaskQuery(group_id=group, state="paused"))
    failed = await store.count_tasks(TaskQuery(group_id=group, state="failed"))
    if paused:
        await scheduler.pause_tasks(group_id=group)
        changed, same = total - already - failed, already
    else:
        await scheduler.resume_tasks(group_id=group)
        changed, same = already, total - already - failed
    verb = "paused" if paused else "resumed"
    print(
        f"group {group!r}: {verb} {changed} task(s); {same} already were; "
        f"{failed} failed left as they are"
    )
    return 0


def run_remove(args: argparse.Namespace) -> int:
    _check_targets(args)

    async def body(scheduler: AsyncScheduler) -> int:
        if args.group:
            total = await scheduler.count_tasks(group_id=args.group)
            if not total:
                print(f"group {args.group!r} has no tasks")
                return 1
            if not _confirm(f"remove all {total} task(s) of group {args.group!r}?", args.yes):
                print("nothing removed")
                return 1
            # The store's own answers are exact (the scheduler's methods return nothing).
            count = await scheduler.datastore.remove_group_tasks(args.group)
            print(f"group {args.group!r}: removed {count} task(s)")
            return 0
        ids = _ids(args)
        now = await scheduler.datastore.current_time()
        found = {t.task_id: t for t in await scheduler.fetch_tasks(task_ids=ids)}
        missing = [i for i in ids if i not in found]
        targets = [i for i in ids if i in found]
        if targets and not _confirm(
            f"remove {len(targets)} task(s): {', '.join(targets)}?", args.yes
        ):
            print("nothing removed")
            return 1
        removed = await scheduler.datastore.remove_tasks(targets) if targets else set()
        _say("removed", [i for i in targets if i in removed])
        missing += [i for i in targets if i not in removed]  # removed by someone else meanwhile
        running = [
            f"{i} ({found[i].claimed_by})"
            for i in targets
            if i in removed and task_state(found[i], now) == "claimed"
        ]
        _say("were held by a worker; a run in progress finishes but records nothing", running)
        _say("not found", missing)
        return 1 if missing else 0

    return _session(args, body)


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigurationError(
            f"{question.rstrip('?')}: pass --yes to confirm (no terminal to ask)"
        )
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run_run_now(args: argparse.Namespace) -> int:
    async def body(scheduler: AsyncScheduler) -> int:
        ids = _ids(args)
        now = await scheduler.datastore.current_time()
        found = {t.task_id: t for t in await scheduler.fetch_tasks(task_ids=ids)}
        failed = [i for i in ids if i in found and found[i].failed]
        held = [
            i
            for i in ids
            if i in found and not found[i].failed and task_state(found[i], now) == "claimed"
        ]
        move = [i for i in ids if i in found and i not in failed and (args.force or i not in held)]
        if move:
            await scheduler.run_now(task_ids=move)
        _say("due now", [i for i in move if not found[i].paused])
        _say("moved to now, but paused: run once resumed", [i for i in move if found[i].paused])
        if not args.force:
            _say(
                "held by a worker, not moved (--force moves it; it may then run twice)",
                [f"{i} ({found[i].claimed_by})" for i in held],
            )
        _say("failed, not moved (taskshed tasks retry re-queues it)", failed)
        missing = [i for i in ids if i not in found]
        _say("not found", missing)
        return 1 if missing else 0

    return _session(args, body)


def run_retry(args: argparse.Namespace) -> int:
    async def body(scheduler: AsyncScheduler) -> int:
        ids = _ids(args)
        found = {t.task_id: t for t in await scheduler.fetch_tasks(task_ids=ids)}
        retried = await scheduler.retry_tasks(task_ids=[i for i in ids if i in found])
        _say("re-queued, due now", [i for i in ids if i in retried])
        _say("not failed, left as they are", [i for i in ids if i in found and i not in retried])
        missing = [i for i in ids if i not in found]
        _say("not found", missing)
        return 1 if missing else 0

    return _session(args, body)
