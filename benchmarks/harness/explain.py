"""Why a target was missed: the mechanism, worded with the run's own numbers (the page stays generated)."""

from __future__ import annotations

from typing import Any

from harness.peers import STORE_LABELS

#: benchmarks/loop_floor.py on the benchmark machine, the evening of 2026-11-30 (3 runs each).
LOOP_FLOOR = (
    "p99 0.01 to 0.04 ms alone, 0.82 to 2.18 ms while one more process keeps a core busy "
    "(as the store's server does while it answers the worker; three runs of each)"
)


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


def _us_per_task(seconds: float | None, n: int) -> str:
    return "?" if seconds is None or not n else f"{seconds / n * 1e6:.0f} µs"


def explain_miss(target: dict[str, Any], summary: dict[str, Any]) -> str:
    key = target["id"]
    store = key.rsplit("-", 1)[1]
    label = STORE_LABELS.get(store, store)
    if key.startswith("live-burst-"):
        return _live_burst(summary, store, label)
    if key.startswith("xlag-outage-"):
        return _outage(summary, store, label)
    if key.startswith("xlag-"):
        return _cross_lag(summary, key, label)
    if key.startswith("million-"):
        return _million(summary, store, label)
    if key.startswith("scale-io-"):
        return _scale_io(summary, store, label)
    if key.startswith("schedule-batched-"):
        case = f"schedule/batched/{store}"
        ours = _median(summary, case, "ours", "cpu_s")
        theirs = _median(summary, case, "reference", "cpu_s")
        how = (
            "one Lua script that checks and writes every task atomically (old claims and group "
            "membership included; the indexes of new tasks written once per batch), where the "
            "reference pipelines plain HSET/ZADD commands"
            if store == "redis"
            else "an INSERT … ON DUPLICATE KEY UPDATE, rendered once and handed to the driver "
            "with one tuple per row, and a COMMIT (the reference sends one INSERT in "
            "autocommit mode)"
        )
        text = (
            f"Ours validates every task and encodes its kwargs before writing anything (nothing is "
            f"half-stored on bad input), then writes with {how}. Process CPU per batch: ours "
            f"{_ms(ours)}, the reference {_ms(theirs)}."
        )
        floor = _median(summary, case, "ours", "floor_insert_wall_s")
        if floor is not None:
            wall = _median(summary, case, "ours", "wall_s")
            ref_wall = _median(summary, case, "reference", "wall_s")
            text += (
                f" The raw driver alone (asyncmy `executemany` of the same upsert rows, then COMMIT) "
                f"took {_ms(floor)}, against {_ms(wall)} for ours and {_ms(ref_wall)} for the "
                "reference's single INSERT in autocommit mode."
            )
        return text
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
                " (SELECT … FOR UPDATE SKIP LOCKED + UPDATE + COMMIT, then DELETE … RETURNING "
                f"+ COMMIT), which costs the server {_s(ours_server)} of CPU against "
                f"{_s(ref_server)} for the reference's two statements."
            )
            text += _mariadb_floor(summary, case)
        elif store == "memory":
            ref_cpu = _median(summary, case, "reference", "cpu_s")
            found = _case(summary, case)
            n = int(found["params"]["n"]) if found else 0
            text += (
                " (one lock each): every claimed task and its kwargs are copied, and every "
                "run goes through the worker's claim, start, finish and completion steps. CPU per "
                f"task: ours {_us_per_task(ours_cpu, n)}, the reference {_us_per_task(ref_cpu, n)} "
                "(`benchmarks/profile_burst.py` breaks ours down)."
            ) + _loop_floor(summary, case, n)
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
                f"(p50 {p50:.2f} ms here). Timing every callback the loop ran (a diagnostic "
                "run on Redis) showed most of the late starts with the loop idle: the task's "
                "timer fired 2 to 8 ms late, so the process was not being run, on 2 cores "
                "shared with the store's server and the benchmark's own processes; the rest "
                "fall due while the loop runs the code of a store call (a claim, a pre-start "
                "check, a completion write). `benchmarks/loop_floor.py` measures the same 1,000 "
                "instants with a bare asyncio loop and nothing else in the process: "
                f"{LOOP_FLOOR}."
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


def _loop_floor(summary: dict[str, Any], case: str, n: int) -> str:
    """The bare loop's share of a memory burst, measured next to ours, as a sentence."""
    floor = _median(summary, case, "ours", "floor_loop_wall_s")
    ref = _median(summary, case, "reference", "wall_s")
    ours = _median(summary, case, "ours", "wall_s")
    if floor is None or not ref or not ours:
        return ""
    return (
        f" Measured in the same run, a bare asyncio loop that only runs the {n:,} no-op "
        f"callbacks, each as a task of its own, 100 at a time, took {_ms(floor)}: "
        f"{floor / ref:.2f}x the reference's whole burst before any claim, lease, copy or "
        f"completion; the rest of ours, {_us_per_task(ours - floor, n)} per task, is that "
        "bookkeeping."
    )


def _mariadb_floor(summary: dict[str, Any], case: str) -> str:
    """The raw-driver floor measured next to ours (``drivers/floor_mariadb.py``), as a sentence."""
    safe = _median(summary, case, "ours", "floor_safe_wall_s")
    if safe is None:
        return ""
    safe_server = _median(summary, case, "ours", "floor_safe_server_cpu_s")
    unsafe = _median(summary, case, "ours", "floor_unsafe_wall_s")
    unsafe_server = _median(summary, case, "ours", "floor_unsafe_server_cpu_s")
    ref = _median(summary, case, "reference", "wall_s")
    ours = _median(summary, case, "ours", "wall_s")
    found = _case(summary, case)
    n = int(found["params"]["n"]) if found else 0
    ratio = f" ({safe / ref:.1f}x the reference)" if ref else ""
    return (
        f" The floor, measured in the same run with the raw driver alone (asyncmy, no scheduler, "
        f"no callbacks): the safe statements in batches of 100 take {_s(safe)}{ratio} and "
        f"{_s(safe_server)} of server CPU; the reference's read-then-delete takes {_s(unsafe)} "
        f"and {_s(unsafe_server)}. Claiming under a lease and deleting after the run cost more "
        "than the target allows before any scheduler code runs"
        + (
            f"; ours, with all {n:,} callbacks run, took {ours / safe:.2f}x that floor."
            if ours
            else "."
        )
    )


def _live_burst(summary: dict[str, Any], store: str, label: str) -> str:
    case = _case(summary, f"burst/live/{store}")
    n = int(case["params"]["n"]) if case else 0
    cid = f"burst/live/{store}"
    ours_first = _median(summary, cid, "ours", "first_s")
    ours_cpu = _median(summary, cid, "ours", "cpu_s")
    ref_cpu = _median(summary, cid, "reference", "cpu_s")
    filled = _median(summary, f"burst/event/{store}", "ours", "wall_s")
    live = _median(summary, cid, "ours", "wall_s")
    return (
        f"The first callback started {_ms(ours_first)} after the due instant and the last "
        f"{_s(live)} after it, against {_s(filled)} for the same number of tasks already due when "
        f"the worker starts. CPU per task while running them: ours {_us_per_task(ours_cpu, n)}, the "
        f"reference {_us_per_task(ref_cpu, n)} (it reads all due tasks in one query and starts them "
        "at once without a claim; ours claims batches of max_concurrency under a lease and "
        "completes each)."
    ) + (_mariadb_floor(summary, "burst/event/mariadb") if store == "mariadb" else "")


def _cross_lag(summary: dict[str, Any], key: str, label: str) -> str:
    variant, store = key[len("xlag-") :].rsplit("-", 1)
    case = _case(summary, f"lag/{variant}/{store}")
    ours = case["results"].get("ours", {}) if case else {}
    median = ours.get("median", {})
    # Without a notifier a task waits for the next max_sleep wake-up: p50 near half of it.
    if median.get("p50_ms", 0.0) > 100:
        return (
            f"This build's worker had no notifier on {label}, so it learnt of each new task at "
            f"its next max_sleep wake-up ({case['params'].get('max_sleep', 1.0) if case else 1.0:g} "
            f"s): p50 {median.get('p50_ms', float('nan')):.0f} ms, the mean of that interval."
        )
    lead = (
        f"The worker hears each task at once through the notifier; the lag (p50 "
        f"{median.get('p50_ms', float('nan')):.1f} ms, max {median.get('max_ms', float('nan')):.0f} ms) "
        "is the scheduler's add and the worker's claim end to end, each slower when it starts "
        "from idle. `benchmarks/profile_cross_lag.py` splits it (this machine, p50): "
    )
    if store == "postgresql":
        return lead + (
            "the add (BEGIN, INSERT, COMMIT, then pg_notify) about 1.6 ms, the notice a tenth of "
            "a millisecond after it, the claim about 1.2 ms: one self-committing `UPDATE ... "
            "RETURNING` on a connection opened with the claim's planner settings (it was five "
            "round trips and about 4 ms, half of that SQLAlchemy building the statement anew)."
        )
    if store == "mariadb":
        return lead + (
            "the add (INSERT, COMMIT, then a Redis PUBLISH) about 1.7 ms, the notice a tenth of "
            "a millisecond after it, the claim about 2.4 ms: `SELECT ... FOR UPDATE SKIP LOCKED`, "
            "`UPDATE`, `COMMIT`, three round trips, since neither MySQL 8 nor MariaDB 10.11 has "
            "`UPDATE ... RETURNING`. The same three statements sent by asyncmy alone take about "
            "0.75 ms after 20 ms idle; the rest is SQLAlchemy's work per statement and the "
            "decoding of the row."
        )
    return lead + "the add and its PUBLISH, the notice, then the claim as one Lua script."


def _outage(summary: dict[str, Any], store: str, label: str) -> str:
    case = _case(summary, f"lag/cross-outage/{store}")
    ours = case["results"].get("ours", {}) if case else {}
    if ours.get("status") == "incomplete":
        return f"Not every task ran: {ours.get('reason')}."
    cuts = ours.get("median", {}).get("cuts")
    if not cuts:
        return (
            f"No notifier connection of the worker process was found on the server to cut "
            f"({label}): the worker had no notifier to lose."
        )
    return (
        "Tasks added while the notifier was down waited for the worker's next max_sleep wake-up "
        "or the re-check after it re-subscribed; the longest wait is above."
    )


def _million(summary: dict[str, Any], store: str, label: str) -> str:
    cid = f"million/1m/{store}"
    parts = []
    for step, name in (("claim", "claim 50"), ("add", "add 50"), ("wakeup", "wake-up")):
        small = _median(summary, cid, "ours", f"{step}_small_ms")
        big = _median(summary, cid, "ours", f"{step}_big_ms")
        ratio = _median(summary, cid, "ours", f"{step}_ratio")
        if ratio is not None and ratio > 1.2:
            parts.append(f"{name} {small:.2f} -> {big:.2f} ms")
    case = _case(summary, cid)
    details = case["results"].get("ours", {}).get("details", {}) if case else {}
    scans = [
        item["statement"][:80]
        for item in details.get("explain", [])
        if any(word in item["plan"] for word in ("Seq Scan", "SCAN ", "| ALL |", "filesort"))
    ]
    text = "Grew with the number stored: " + ", ".join(parts) + "."
    if scans:
        text += (
            " The plans below show a scan (or a sort) of the whole table for: "
            + "; ".join(f"`{s}…`" for s in scans)
            + "."
        )
    elif store == "redis":
        text += " See the SLOWLOG durations below: the scripts' own time on the server."
    return text


def _scale_io(summary: dict[str, Any], store: str, label: str) -> str:
    one = _median(summary, f"scale/io-p1/{store}", "ours", "tasks_per_s")
    four = _median(summary, f"scale/io-p4/{store}", "ours", "tasks_per_s")
    case = _case(summary, f"scale/io-p1/{store}")
    concurrency = case["params"].get("max_concurrency") if case else None
    ceiling = (
        None
        if not case or concurrency is None
        else concurrency * 1000 / float(case["params"]["callback_ms"])
    )
    cores = summary["machine"].get("cores")
    return (
        f"One process ran {one or 0:,.0f} tasks/s of a possible {ceiling or 0:,.0f} "
        f"(max_concurrency {concurrency} / 10 ms); four reached {four or 0:,.0f}/s: beyond that the "
        f"{cores} cores, shared with the {label} server and the process adding the tasks, are busy "
        "claiming and completing (the CPU-bound no-op case shows that ceiling)."
    )
