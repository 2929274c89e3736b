"""docs/benchmarks.md, written from a summary; nothing in it is edited by hand."""

from __future__ import annotations

from typing import Any

from harness.explain import explain_miss
from harness.peers import STORE_LABELS
from harness.summary import metrics_of, ratio, ratio_metrics_of

DASH = "\N{EN DASH}"
TIMES = "\N{MULTIPLICATION SIGN}"

#: The sections of the medians, in order: (title, kind of case).
SECTIONS = (
    ("Scheduling", "schedule"),
    ("Many tasks due at once", "burst"),
    ("A burst added while the worker runs", "burst-live"),
    ("Execution lag", "lag"),
    ("Execution lag across processes", "lag-cross"),
    ("Worker processes", "scale"),
    ("A million stored tasks", "million"),
)

METHOD = {
    "schedule": (
        "Time for the scheduler API to store N one-off tasks due tomorrow, after one warm-up "
        "round trip: *batched* is one `add_tasks` call (one transaction or pipeline), *one by one* "
        "is `add_task` per task. APScheduler 3, arq and saq have no batch call."
    ),
    "burst": (
        "N one-off tasks, all already due, are put in the store; then one worker is started. Timed "
        "from `start()` until every callback has run *and* the store holds no task any more. CPU "
        "time is the scheduler process's own (`time.process_time`), and separately with the store "
        "server's CPU time added (read from `/proc`; not for memory and SQLite). Workers: ours "
        "`EventDrivenWorker` with its defaults (max_concurrency 100, batch_size 100); the "
        "reference's `EventDrivenWorker` (it starts every due task at once); APScheduler's "
        "`AsyncIOScheduler`; arq's `Worker` with max_jobs 100 and poll_delay 0.1 s."
    ),
    "burst-live": (
        "The common case: a worker is already running and idle when an application adds N "
        "one-off tasks, all due at one instant a little later (in chunks of 2,000 through the "
        "scheduler). *Added to a running worker*: the scheduler is in the worker's process and "
        "tells it; *from another process*: a scheduler process adds them, and the worker learns "
        "through its notifier (or its own polling: the due instant is later than its longest "
        "sleep). Timed from the due instant to the start of the last callback, and to the store "
        "being empty; CPU from the end of adding until the store is empty (worker process, and "
        "with the store server's). The reference's worker cannot hear another process, so it "
        "polls there (see its adaptations)."
    ),
    "lag": (
        "N one-off tasks due evenly over a few seconds, added in one call shortly before the first "
        "is due, to a running worker in the same process as the scheduler. Lag is the time the "
        "callback started minus the task's due time."
    ),
    "lag-cross": (
        "A scheduler in one process adds tasks due *now*, one `add_task` call at a time with "
        "irregular gaps of about 20 ms; an `EventDrivenWorker` (max_sleep 1 s) runs them in another "
        "process. Lag is the callback's start minus the instant the task was added, so it includes "
        "the write, the notice and the claim. The worker hears of new tasks through the store's "
        "own notifier (Redis pub/sub, PostgreSQL LISTEN/NOTIFY), a Redis notifier paired with "
        "MariaDB, or, where there is none, its own `max_sleep` polling. In the outage case the "
        "worker process's notifier connection is closed server-side every 0.3 s while tasks are "
        "added: notices are lost, and each task must still run, within the polling interval."
    ),
    "scale": (
        "1, 2 or 4 worker processes (polling) on one store; once all are up, N tasks due at the "
        "same moment are added. Tasks per second = distinct tasks run / time from their due time "
        "until the store is empty; a *duplicate* is a callback started again for a task that "
        "already ran. With *no-op callbacks* this measures the scheduler's own cost: one process "
        "is bound by its CPU, and on 2 cores shared with the store server and the process adding "
        "tasks, more processes find little idle CPU. With *callbacks awaiting 10 ms* (I/O, not "
        "CPU) and max_concurrency 10 (arq's and saq's default), one process is bound by waiting, "
        "and processes add up. Ours and the reference run `PollingWorker`, arq its `Worker` with "
        "that poll_delay, APScheduler an `AsyncIOScheduler` woken at that interval."
    ),
    "million": (
        "Ours alone, one store at a time (`--only million`). With few tasks stored (not due: a "
        "day ahead), then with many (filled in batches of 10,000 through `add_tasks`, the rate "
        "measured), the store's own methods are timed: *claim 50* = `add_tasks` of 50 due tasks, "
        "`acquire_tasks` of them and `complete_tasks`; *wake-up* = `fetch_next_wakeup` with the "
        "worker's callback filter. Each is the median of 7 (alternating claim and wake-up); the "
        "ratio is many / few. Memory per task: SQL table + index bytes as the server reports "
        "them; Redis `INFO memory` growth and `MEMORY USAGE` of each kind of key. No `ANALYZE` "
        "or `VACUUM` runs in between (the plans must not depend on statistics)."
    ),
}


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return DASH
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def fmt_metric(key: str, value: float | None) -> str:
    if value is None:
        return DASH
    if key.endswith("_ms"):
        return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"
    if key.endswith("_s"):
        return fmt_seconds(value)
    if key in ("tasks_per_s", "add_rate"):
        return f"{value:,.0f}/s"
    if key.endswith("_ratio"):
        return f"{value:.2f}{TIMES}"
    if key.startswith("bytes"):
        return f"{value:,.0f} B"
    return f"{value:,.0f}"


def fmt_ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}{TIMES}"


def _peer_cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return DASH
    if result["status"] == "na":
        return "n/a"
    if result["status"] != "ok":
        return "failed"
    return ""


def render(summary: dict[str, Any], *, chart_dir: str | None) -> str:
    peers = list(summary["peers"])
    others = [key for key in peers if key != "ours"]
    labels = {key: summary["peers"][key]["label"] for key in peers}
    lines: list[str] = []
    add = lines.append

    add("# Benchmarks")
    add("")
    add(
        "<!-- Generated by benchmarks/run.py from benchmarks/results/summary.json; do not edit by hand. -->"
    )
    add("")
    kind = (
        "a **smoke** run (tiny sizes: numbers mean nothing)" if summary["smoke"] else "a full run"
    )
    add(
        "taskshed side by side with TaskShed 0.10.0 (the release it replaces), APScheduler 3, arq, "
        f"procrastinate and saq, "
        f"on the same machine in the same run. This page is {kind} of {summary['repetitions']} "
        f"repetition(s), taken {summary['generated']}; every number is the median of the repetitions, "
        f"and the runs of the peers alternate with ours."
    )
    add("")
    add("To reproduce (from the repository root, with the servers of `.ci/run` up):")
    add("")
    add("```sh")
    add("./dev.sh setup")
    add(summary["command"])
    add("```")
    add("")
    add(
        "The runner makes one virtual environment per peer under `benchmarks/.venvs/` (the "
        "reference is also called `taskshed`), runs each workload in a fresh process of the "
        "peer's interpreter (`benchmarks/drivers/`), and writes this page, "
        "`benchmarks/results/summary.json` and the charts. `--smoke` runs tiny sizes in seconds; "
        "`--only million --merge` runs the long section with a million stored tasks per store "
        "and keeps the other cases of the page. `benchmarks/profile_hot_paths.py` profiles our "
        "stores' add, claim and complete paths, `benchmarks/profile_burst.py` our worker's CPU "
        "per task in a burst. See `benchmarks/README.md`."
    )
    add("")
    if len(summary.get("merged_runs", [])) > 1:
        add(
            "This page joins runs taken "
            + ", ".join(summary["merged_runs"])
            + " (`--merge`): each case comes from the latest run that measured it."
        )
        add("")

    add("## Machine")
    add("")
    m = summary["machine"]
    add(f"- {m['cpu']}, {m['cores']} logical cores, {m.get('memory_gib') or '?'} GiB memory")
    add(f"- {m['platform']}, {m['implementation']} {m['python']}")
    for store, version in sorted(summary.get("servers", {}).items()):
        if version:
            add(
                f"- {STORE_LABELS.get(store, store)}: {version}, on the same machine (it shares the cores)"
            )
    load = summary.get("load_average")
    if load:
        add(
            f"- load average (1 min) at the start {load['start'][0]:.2f}, at the end {load['end'][0]:.2f}"
        )
    add("")

    add("## Peers")
    add("")
    add("| | version | stores | adapted to run here |")
    add("|---|---|---|---|")
    for key in peers:
        info = summary["peers"][key]
        adaptations = "<br>".join(info.get("adaptations") or []) or "nothing"
        stores = ", ".join(STORE_LABELS[s] for s in info.get("stores", []))
        add(f"| {info['label']} | {info.get('version') or '?'} | {stores} | {adaptations} |")
    add("")
    settings = summary["peers"].get("ours", {}).get("settings") or {}
    if settings:
        add(
            f"Ours ran with the workers' defaults: max_concurrency {settings.get('max_concurrency')}, "
            f"batch_size {settings.get('batch_size')}, event-driven prefetch "
            f"{(settings.get('prefetch_s') or 0) * 1e3:.0f} ms; Redis replies parsed by "
            f"{'hiredis' if settings.get('redis_parser') == 'hiredis' else 'redis-py in Python'}; "
            "no event observers (as installed without a metrics plugin: the project's venv has "
            "the Prometheus plugin, whose hooks the runner leaves out)."
        )
        add("")

    add("## Ratios: ours / theirs")
    add("")
    add(
        f"Median of ours divided by the median of the peer. For times and lags **below 1{TIMES} means "
        f"ours is better**; for tasks per second **above 1{TIMES} means ours is better**. "
        "n/a: the peer cannot do this (the reason is listed below)."
    )
    add("")
    if not others:
        add("No peer ran in this run, so there are no ratios.")
        add("")
    else:
        add("| workload | metric | " + " | ".join(f"vs {labels[k]}" for k in others) + " |")
        add("|---|---|" + "---|" * len(others))
        for case in summary["cases"]:
            for metric in ratio_metrics_of(case):
                cells = []
                for key in others:
                    result = case["results"].get(key)
                    mark = _peer_cell(result)
                    value = ratio(case, metric.key, key)
                    cells.append(fmt_ratio(value) if value is not None else (mark or DASH))
                if all(cell == DASH for cell in cells):
                    continue  # e.g. server CPU on the in-memory store
                better = "lower is better" if metric.lower_is_better else "higher is better"
                add(f"| {case['title']} | {metric.label} ({better}) | " + " | ".join(cells) + " |")
        add("")

    add("## Targets")
    add("")
    add("| target | result | measured | why |")
    add("|---|---|---|---|")
    for target in summary["targets"]:
        why = explain_miss(target, summary) if target["status"] == "missed" else ""
        add(f"| {target['text']} | **{target['status']}** | {target['measured']} | {why} |")
    add("")

    if chart_dir is not None:
        add("## Charts")
        add("")
        drawn = {case["workload"] for case in summary["cases"]}
        drawn |= {"lag-cross" for c in summary["cases"] if c["variant"].startswith("cross")}
        drawn |= {"burst-live" for c in summary["cases"] if c["variant"].startswith("live")}
        for workload, name, alt in (
            ("schedule", "schedule.png", "Time to schedule tasks"),
            ("burst", "burst.png", "Tasks due at once: wall and CPU time"),
            ("burst-live", "live-burst.png", "A burst added while the worker runs"),
            ("lag", "lag.png", "Execution lag"),
            ("lag-cross", "cross-lag.png", "Execution lag across processes"),
            ("scale", "scale.png", "Worker processes: tasks per second"),
            ("million", "million.png", "A million stored tasks: ratios to 10,000 stored"),
        ):
            if workload in drawn:
                add(f"![{alt}]({chart_dir}/{name})")
                add("")

    add("## Medians")
    for title, section in SECTIONS:
        cases = [c for c in summary["cases"] if _section(c) == section]
        if not cases:
            continue
        add("")
        add(f"### {title}")
        add("")
        add(METHOD[section])
        add("")
        metrics = metrics_of(cases[0])
        add("| case | scheduler | " + " | ".join(m.label for m in metrics) + " | runs |")
        add("|---|---|" + "---|" * (len(metrics) + 1))
        for case in cases:
            for key in peers:
                result = case["results"].get(key)
                if result is None:
                    continue
                if result["status"] != "ok":
                    word = "n/a" if result["status"] == "na" else "failed"
                    add(f"| {case['title']} | {labels[key]} | {word} |" + " |" * len(metrics))
                    continue
                values = []
                for metric in metrics:
                    if metric.key == "duplicates" and "duplicates_total" in result:
                        values.append(
                            f"{result['duplicates_total']:,.0f} in {result['complete']} runs"
                        )
                    else:
                        values.append(fmt_metric(metric.key, result["median"].get(metric.key)))
                add(
                    f"| {case['title']} | {labels[key]} | "
                    + " | ".join(values)
                    + f" | {result['complete']}/{result['runs']} |"
                )
        if section == "million":
            lines.extend(_million_details(cases))
    add("")

    notes = []
    for case in summary["cases"]:
        for key in peers:
            result = case["results"].get(key)
            if result is None:
                continue
            if result["status"] == "na":
                notes.append(f"- {case['title']}, {labels[key]}: n/a: {result['reason']}")
            elif result["status"] != "ok":
                notes.append(
                    f"- {case['title']}, {labels[key]}: no complete run: {result.get('reason')}"
                )
            for note in result.get("notes", []):
                notes.append(f"- {case['title']}, {labels[key]}: {note} (left out of the median)")
    if notes:
        add("## Not applicable, failed or left out")
        add("")
        # One line per distinct reason and peer keeps the list readable.
        seen: set[str] = set()
        for note in notes:
            if note not in seen:
                seen.add(note)
                add(note)
        add("")
    return "\n".join(lines)


def _section(case: dict[str, Any]) -> str:
    if case["workload"] == "burst" and case["variant"].startswith("live"):
        return "burst-live"
    if case["workload"] == "lag" and case["variant"].startswith("cross"):
        return "lag-cross"
    return str(case["workload"])


def _million_details(cases: list[dict[str, Any]]) -> list[str]:
    """What the servers do with a million stored: plans, Redis keys and slow log, table sizes."""
    lines: list[str] = []
    for case in cases:
        ours = case["results"].get("ours", {})
        details = ours.get("details") or {}
        if not details:
            continue
        store = STORE_LABELS.get(case["store"], case["store"])
        lines += [
            "",
            f"#### {store}: what the server does with {case['params']['big']:,} stored",
            "",
        ]
        if details.get("memory"):
            lines.append(f"Memory per task from: {details['memory']}.")
            lines.append("")
        tables = details.get("tables")
        if tables:
            lines += ["| table or index | data bytes | index bytes |", "|---|---|---|"]
            for name, (data, index) in sorted(tables.items()):
                lines.append(f"| `{name}` | {data:,} | {index:,} |")
            lines.append("")
        for item in details.get("explain", []):
            lines.append(f"`{item['statement'][:400]}`")
            lines.append("")
            lines.append("```")
            lines.extend(str(item["plan"]).splitlines())
            lines.append("```")
            lines.append("")
        usage = details.get("memory_usage")
        if usage:
            lines += ["| key (kind) | keys | MEMORY USAGE (median of a sample) |", "|---|---|---|"]
            for kind, info in usage.items():
                each = info.get("bytes_each_median")
                lines.append(
                    f"| `{kind}` | {info['keys']:,} | {DASH if each is None else f'{each:,.0f} B'} |"
                )
            lines.append("")
        slow = details.get("slowlog")
        if slow:
            lines += [
                "SLOWLOG with every command logged, during the timed claims and wake-ups:",
                "",
                "| command | µs |",
                "|---|---|",
            ]
            for entry in slow[:20]:
                lines.append(f"| `{entry['command']}` | {entry['microseconds']} |")
            lines.append("")
    return lines
