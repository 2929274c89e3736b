"""From raw runs to medians, ratios (ours / theirs) and the targets of issue 6."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from harness.plan import Case


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    lower_is_better: bool = True


METRICS: dict[str, tuple[Metric, ...]] = {
    "schedule": (Metric("wall_s", "time", "s"),),
    "burst": (
        Metric("wall_s", "wall time", "s"),
        Metric("cpu_s", "CPU time, scheduler process", "s"),
        Metric("cpu_total_s", "CPU time, process + store server", "s"),
    ),
    "burst-live": (
        Metric("wall_s", "due instant to last start", "s"),
        Metric("drain_s", "due instant to store empty", "s"),
        Metric("cpu_s", "CPU time, worker process", "s"),
        Metric("cpu_total_s", "CPU time, worker process + store server", "s"),
        Metric("duplicates", "duplicate runs", ""),
    ),
    "lag": (
        Metric("p50_ms", "lag p50", "ms"),
        Metric("p99_ms", "lag p99", "ms"),
        Metric("max_ms", "lag max", "ms"),
    ),
    "lag-cross": (
        Metric("p50_ms", "lag p50", "ms"),
        Metric("p99_ms", "lag p99", "ms"),
        Metric("max_ms", "lag max", "ms"),
        Metric("duplicates", "duplicate runs", ""),
    ),
    "scale": (
        Metric("tasks_per_s", "tasks per second", "1/s", lower_is_better=False),
        Metric("duplicates", "duplicate runs", ""),
    ),
    "million": (
        Metric("add_rate", "add rate (batches of 10,000)", "1/s", lower_is_better=False),
        Metric("claim_small_ms", "claim 50, few stored", "ms"),
        Metric("claim_big_ms", "claim 50, many stored", "ms"),
        Metric("claim_ratio", "claim ratio", "x"),
        Metric("add_small_ms", "add 50, few stored", "ms"),
        Metric("add_big_ms", "add 50, many stored", "ms"),
        Metric("add_ratio", "add ratio", "x"),
        Metric("wakeup_small_ms", "wake-up, few stored", "ms"),
        Metric("wakeup_big_ms", "wake-up, many stored", "ms"),
        Metric("wakeup_ratio", "wake-up ratio", "x"),
        Metric("bytes_per_task", "bytes per stored task", "B"),
    ),
}


def kind(workload: str, variant: str) -> str:
    """Which metric set a case reports: a workload, or one of its variants with its own."""
    if workload == "burst" and variant.startswith("live"):
        return "burst-live"
    if workload == "lag" and variant.startswith("cross"):
        return "lag-cross"
    return workload


def metrics_of(case: dict[str, Any] | Case) -> tuple[Metric, ...]:
    if isinstance(case, Case):
        return METRICS[kind(case.workload, case.variant)]
    return METRICS[kind(case["workload"], case["variant"])]


def ratio_metrics_of(case: dict[str, Any] | Case) -> tuple[Metric, ...]:
    """Metrics compared as ratios (duplicates are compared as counts; million is ours alone)."""
    return tuple(m for m in metrics_of(case) if m.key != "duplicates")


def completeness(workload: str, params: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Why a finished run does not count (empty when it does)."""
    if metrics.get("timed_out"):
        return "timed out"
    if workload == "burst" and metrics.get("ran", 0) < params["n"]:
        return f"only {metrics.get('ran')} of {params['n']} ran"
    if workload == "burst" and metrics.get("add_overran"):
        return "adding the tasks took longer than the lead time"
    if workload == "lag":
        if metrics.get("missing"):
            return f"{metrics['missing']} of {params['n']} never ran"
        if metrics.get("add_overran"):
            return "adding the tasks took longer than the lead time"
    if workload == "schedule" and metrics.get("stored") != params["n"]:
        return f"{metrics.get('stored')} of {params['n']} stored"
    if workload == "scale" and metrics.get("unique", 0) < params["n"]:
        return f"only {metrics.get('unique')} of {params['n']} ran"
    return ""


def _derived(metrics: dict[str, Any]) -> dict[str, Any]:
    values = dict(metrics)
    if values.get("cpu_s") is not None and values.get("server_cpu_s") is not None:
        values["cpu_total_s"] = values["cpu_s"] + values["server_cpu_s"]
    return values


def summarize_case(case: Case, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per peer: status, the medians of complete runs, and notes on the others."""
    by_peer: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_peer.setdefault(run["peer"], []).append(run)
    results: dict[str, Any] = {}
    for peer, peer_runs in by_peer.items():
        na = [r for r in peer_runs if r["status"] == "na"]
        if na and len(na) == len(peer_runs):
            results[peer] = {"status": "na", "reason": na[0]["reason"]}
            continue
        complete: list[dict[str, Any]] = []
        notes: list[str] = []
        for run in peer_runs:
            if run["status"] == "error":
                notes.append(f"run {run['rep'] + 1}: error: {run['reason']}")
                continue
            if run["status"] != "ok":
                continue
            why = completeness(case.workload, case.params, run["metrics"])
            if why:
                notes.append(f"run {run['rep'] + 1}: {why}")
            else:
                complete.append(_derived(run["metrics"]))
        entry: dict[str, Any] = {"runs": len(peer_runs), "complete": len(complete), "notes": notes}
        if complete:
            entry["status"] = "ok"
            keys = {
                key
                for run in complete
                for key, value in run.items()
                if isinstance(value, int | float) and not isinstance(value, bool)
            }
            entry["median"] = {
                key: statistics.median(run[key] for run in complete if run.get(key) is not None)
                for key in sorted(keys)
                if any(run.get(key) is not None for run in complete)
            }
            if any("duplicates" in run for run in complete):
                entry["duplicates_total"] = sum(run.get("duplicates", 0) for run in complete)
            entry["values"] = {
                metric.key: [run.get(metric.key) for run in complete] for metric in metrics_of(case)
            }
            details = next((run["details"] for run in complete if run.get("details")), None)
            if details:
                entry["details"] = details
        else:
            entry["status"] = "incomplete"
            entry["reason"] = "; ".join(notes) or "no run finished"
        results[peer] = entry
    return {
        "id": case.id,
        "workload": case.workload,
        "variant": case.variant,
        "store": case.store,
        "title": case.title(),
        "params": case.params,
        "results": results,
    }


def ratio(case_summary: dict[str, Any], metric: str, theirs: str) -> float | None:
    """ours / theirs for one metric, or None when either side has no number."""
    mine = case_summary["results"].get("ours", {}).get("median", {}).get(metric)
    other = case_summary["results"].get(theirs, {}).get("median", {}).get(metric)
    if mine is None or other is None or other == 0:
        return None
    return float(mine) / float(other)


# ---------------------------------------------------------------------- targets


def _find(cases: list[dict[str, Any]], case_id: str) -> dict[str, Any] | None:
    return next((case for case in cases if case["id"] == case_id), None)


def _total_duplicates(cases: list[dict[str, Any]], case_id: str, peer: str) -> float | None:
    case = _find(cases, case_id)
    if case is None:
        return None
    value = case["results"].get(peer, {}).get("duplicates_total")
    return None if value is None else float(value)


def _median(cases: list[dict[str, Any]], case_id: str, peer: str, metric: str) -> float | None:
    case = _find(cases, case_id)
    if case is None:
        return None
    value = case["results"].get(peer, {}).get("median", {}).get(metric)
    return None if value is None else float(value)


LABEL = {
    "memory": "memory",
    "redis": "Redis",
    "mariadb": "MariaDB",
    "postgresql": "PostgreSQL",
    "sqlite": "SQLite",
}


def evaluate_targets(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issues' targets, each met / missed / not measured, with the numbers.

    Issue 6 (the first round), 15 (speed, second round), 18 (a million stored)
    and 12 (cross-process wake-ups). A target whose cases did not run is left
    out; one whose cases ran without a number is "not measured".
    """
    targets: list[dict[str, Any]] = []
    present = {case["id"] for case in cases}

    def add(key: str, text: str, ok: bool | None, measured: str) -> None:
        status = "not measured" if ok is None else ("met" if ok else "missed")
        targets.append({"id": key, "text": text, "status": status, "measured": measured})

    def ran(*case_ids: str) -> bool:
        return any(case_id in present for case_id in case_ids)

    for store, limit in (("redis", 0.8), ("mariadb", 0.8)):
        case = _find(cases, f"schedule/batched/{store}")
        if case is None:
            continue
        r = ratio(case, "wall_s", "reference")
        add(
            f"schedule-batched-{store}",
            f"schedule 500 batched on {LABEL[store]}: at most {limit}x the reference's time",
            None if r is None else r <= limit,
            "n/a" if r is None else f"{r:.2f}x",
        )
    for store, limit in (("memory", 1.5), ("redis", 1.0), ("mariadb", 1.0)):
        case = _find(cases, f"burst/event/{store}")
        if case is None:
            continue
        wall = ratio(case, "wall_s", "reference")
        cpu = ratio(case, "cpu_s", "reference")
        total = ratio(case, "cpu_total_s", "reference")
        ok = None if wall is None or cpu is None else (wall <= limit and cpu <= limit)
        measured = "n/a" if ok is None else f"wall {wall:.2f}x, CPU {cpu:.2f}x"
        if total is not None and ok is not None:
            measured += f" (CPU incl. server {total:.2f}x)"
        add(
            f"burst-{store}",
            f"20,000 due at once on {LABEL[store]}: wall and CPU at most {limit}x the reference",
            ok,
            measured,
        )
    for store, limit in (("redis", 0.5), ("mariadb", 1.0)):
        case = _find(cases, f"burst/live/{store}")
        if case is None:
            continue
        wall = ratio(case, "wall_s", "reference")
        dupes = _total_duplicates(cases, f"burst/live/{store}", "ours")
        ok = None if wall is None else (wall <= limit and not dupes)
        ours = _median(cases, f"burst/live/{store}", "ours", "wall_s")
        theirs = _median(cases, f"burst/live/{store}", "reference", "wall_s")
        add(
            f"live-burst-{store}",
            f"20,000 added to a running worker on {LABEL[store]}, due at once: due instant to "
            f"last start at most {limit}x the reference's",
            ok,
            "n/a"
            if ok is None or ours is None or theirs is None
            else f"{wall:.2f}x ({ours:.2f} s vs {theirs:.2f} s)",
        )
    for store in ("memory", "redis", "mariadb", "postgresql", "sqlite"):
        if not ran(f"lag/event/{store}"):
            continue
        p99 = _median(cases, f"lag/event/{store}", "ours", "p99_ms")
        add(
            f"lag-event-{store}",
            f"event-driven lag p99 at most 1 ms on {LABEL[store]}",
            None if p99 is None else p99 <= 1.0,
            "n/a" if p99 is None else f"p99 {p99:.2f} ms",
        )
    for store in ("memory", "redis", "mariadb", "postgresql", "sqlite"):
        case = _find(cases, f"lag/polling/{store}")
        if case is None:
            continue
        worst = _median(cases, f"lag/polling/{store}", "ours", "max_ms")
        interval_ms = case["params"]["polling_interval"] * 1000
        ok = None if worst is None else worst <= interval_ms * 1.1
        add(
            f"lag-polling-{store}",
            f"polling lag bounded by the polling interval on {LABEL[store]} (max at most 1.1x the interval)",
            ok,
            "n/a" if ok is None else f"max {worst:.0f} ms, interval {interval_ms:.0f} ms",
        )
    for case_id, label in (
        ("lag/cross/redis", "Redis (its pub/sub notifier)"),
        ("lag/cross/postgresql", "PostgreSQL (LISTEN/NOTIFY)"),
        ("lag/cross-redis/mariadb", "MariaDB with a Redis notifier"),
    ):
        if not ran(case_id):
            continue
        p99 = _median(cases, case_id, "ours", "p99_ms")
        add(
            "xlag-" + case_id.split("/", 1)[1].replace("/", "-"),
            f"worker in another process than the scheduler, lag p99 at most 10 ms on {label}",
            None if p99 is None else p99 <= 10.0,
            "n/a" if p99 is None else f"p99 {p99:.1f} ms",
        )
    for store in NOTIFIED_STORES:
        case = _find(cases, f"lag/cross-outage/{store}")
        if case is None:
            continue
        worst = _median(cases, case["id"], "ours", "max_ms")
        cuts = _median(cases, case["id"], "ours", "cuts")
        limit_ms = float(case["params"].get("max_sleep", 1.0)) * 1000 * 1.1
        missing = case["results"].get("ours", {}).get("status") == "incomplete"
        ok = None if worst is None else (worst <= limit_ms and bool(cuts))
        add(
            f"xlag-outage-{store}",
            f"notifier cut every {case['params'].get('cut_every')} s on {LABEL[store]}: every task "
            f"runs, lag at most the polling interval ({limit_ms / 1.1:.0f} ms, +10%)",
            False if missing else ok,
            "n/a"
            if worst is None
            else f"max {worst:.0f} ms, {cuts or 0:.0f} notifier connection(s) cut",
        )
    for store in ("memory", "redis", "mariadb", "postgresql", "sqlite"):
        case_id = f"million/1m/{store}"
        if not ran(case_id):
            continue
        values = {
            step: _median(cases, case_id, "ours", f"{step}_ratio")
            for step in ("claim", "add", "wakeup")
        }
        known = [v for v in values.values() if v is not None]
        ok = None if len(known) < 3 else all(v <= 1.2 for v in known)
        case = _find(cases, case_id)
        big = case["params"]["big"] if case else 0
        small = case["params"]["small"] if case else 0
        add(
            f"million-{store}",
            f"{big:,} stored vs {small:,} on {LABEL[store]}: claim 50, add 50 and wake-up at most 1.2x",
            ok,
            "n/a"
            if ok is None
            else ", ".join(f"{step} {value:.2f}x" for step, value in values.items() if value),
        )
    for store in ("redis", "mariadb", "postgresql"):
        one = _median(cases, f"scale/io-p1/{store}", "ours", "tasks_per_s")
        four = _median(cases, f"scale/io-p4/{store}", "ours", "tasks_per_s")
        if not ran(f"scale/io-p1/{store}"):
            continue
        io_dupes = [
            _total_duplicates(cases, f"scale/io-{v}/{store}", "ours") for v in ("p1", "p2", "p4")
        ]
        seen = [d for d in io_dupes if d is not None]
        ok = None if one is None or four is None else (four >= 3.5 * one and not any(seen))
        add(
            f"scale-io-{store}",
            f"4 worker processes with 10 ms I/O callbacks on {LABEL[store]}: at least 3.5x the "
            "tasks/s of 1, no duplicate runs",
            ok,
            "n/a"
            if ok is None or one is None or four is None
            else f"{four / one:.2f}x ({one:,.0f} -> {four:,.0f} tasks/s), duplicates {sum(seen):.0f}",
        )
    one = _median(cases, "scale/p1/redis", "ours", "tasks_per_s")
    two = _median(cases, "scale/p2/redis", "ours", "tasks_per_s")
    if ran("scale/p1/redis"):
        cpu_dupes = [
            _total_duplicates(cases, f"scale/{variant}/redis", "ours")
            for variant in ("p1", "p2", "p4")
        ]
        seen = [d for d in cpu_dupes if d is not None]
        ok = None if one is None or two is None else (two >= 1.5 * one and not any(seen))
        add(
            "scale-redis",
            "2 worker processes on Redis (no-op callbacks): at least 1.5x the tasks/s of 1, "
            "and no duplicate runs",
            ok,
            "n/a"
            if ok is None or one is None or two is None
            else f"{two / one:.2f}x ({one:,.0f} -> {two:,.0f} tasks/s), duplicates {sum(seen):.0f}",
        )
    return targets


NOTIFIED_STORES = ("redis", "postgresql", "mariadb")
