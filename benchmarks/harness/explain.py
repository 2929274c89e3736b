"""Why a target was missed: the mechanism, worded with the run's own numbers (the page stays generated)."""

from __future__ import annotations

from typing import Any

from harness.peers import STORE_LABELS


def _case(summary: dict[str, Any], case_id: str) -> dict[str, Any] | None:
    return next((c for c in summary["cases"] if c["id"] == case_id), None)


def _median(summary: dict[str, Any], case_id: str, peer: str, metric: str) -> float | None:
    case = _case(summary, case_id)
    if case is None:
        return None
    value = case["results"].get(peer, {}).get("median", {}).get(metric)
    return None if value is None else float(value)


def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value * 1e3:.1f} ms"


def _s(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f} s"


def explain_miss(target: dict[str, Any], summary: dict[str, Any]) -> str:
    key = target["id"]
    store = key.rsplit("-", 1)[1]
    label = STORE_LABELS.get(store, store)
    if key.startswith("schedule-batched-"):
        case = f"schedule/batched/{store}"
        ours = _median(summary, case, "ours", "cpu_s")
        theirs = _median(summary, case, "reference", "cpu_s")
        how = (
            "one Lua script that checks and writes every task atomically (old claims and group "
            "membership included), where the reference pipelines plain HSET/ZADD commands"
            if store == "redis"
            else "an INSERT … ON DUPLICATE KEY UPDATE sent through SQLAlchemy and a COMMIT "
            "(the reference sends one INSERT in autocommit mode)"
        )
        return (
            f"Ours validates every task and encodes its kwargs before writing anything (nothing is "
            f"half-stored on bad input), then writes with {how}. Process CPU per batch: ours "
            f"{_ms(ours)}, the reference {_ms(theirs)}."
        )
    if key.startswith("burst-"):
        case = f"burst/event/{store}"
        ours_cpu = _median(summary, case, "ours", "cpu_s")
        ours_server = _median(summary, case, "ours", "server_cpu_s")
        ref_server = _median(summary, case, "reference", "server_cpu_s")
        dupes = _median(summary, "scale/p2/" + store, "reference", "duplicates")
        text = (
            "The reference reads all due tasks in one query and deletes them in one more, before "
            "their callbacks have run (a crash loses them) and without a claim"
            + (f" (2 of its processes ran {dupes:,.0f} tasks twice here)" if dupes else "")
            + ". Ours claims batches under a lease and removes a task only after its callback "
            "returned: two atomic writes per batch"
        )
        if store == "mariadb":
            text += (
                " (SELECT … FOR UPDATE SKIP LOCKED + UPDATE + COMMIT, then SELECT … FOR UPDATE + "
                f"DELETE + COMMIT), which costs the server {_s(ours_server)} of CPU against "
                f"{_s(ref_server)} for the reference's two statements."
            )
        else:
            parser = summary["peers"].get("ours", {}).get("settings", {}).get("redis_parser")
            where = (
                "redis-py's pure-Python reply parser (install hiredis)"
                if parser == "python"
                else "decoding the claimed tasks' fields and building Task objects"
            )
            text += f" (one Lua script each); our process spent {_s(ours_cpu)} of CPU, most of it {where}."
        return text
    if key.startswith("lag-event-"):
        p50 = _median(summary, f"lag/event/{store}", "ours", "p50_ms")
        prefetch = summary["peers"].get("ours", {}).get("settings", {}).get("prefetch_s") or 0
        if prefetch:
            return (
                f"The worker claims up to {prefetch * 1e3:.0f} ms ahead and starts each task on the dot "
                f"(p50 {p50:.2f} ms here); the tail is the event loop being busy with other starts, "
                "completions and claims when tasks fall due 3 ms apart, on cores shared with the server."
                if p50 is not None
                else "No complete measurement."
            )
        return (
            "The event-driven worker claims a task only once it is due, so each start waits for "
            f"one claim round trip on {label}"
            + ("" if p50 is None else f" (p50 {p50:.2f} ms here)")
            + "; claiming a few milliseconds ahead and starting at run_at would take it out of the lag."
        )
    if key.startswith("lag-polling-"):
        return (
            "A task that falls due just after a poll waits the whole interval, then the claim "
            f"round trip(s) on {label} for its batch."
        )
    if key == "scale-redis":
        cores = summary["machine"].get("cores")
        one = _median(summary, "scale/p1/redis", "ours", "tasks_per_s")
        return (
            f"The callbacks do nothing, so one worker process is bound by its own CPU "
            f"({one:,.0f} tasks/s); on this {cores}-core machine the worker processes share the "
            "cores with the Redis server and the process adding the tasks, so a second process "
            "finds little idle CPU."
            if one
            else "No measurement of one process."
        )
    return ""
