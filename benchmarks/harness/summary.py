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
    "lag": (
        Metric("p50_ms", "lag p50", "ms"),
        Metric("p99_ms", "lag p99", "ms"),
        Metric("max_ms", "lag max", "ms"),
    ),
    "scale": (
        Metric("tasks_per_s", "tasks per second", "1/s", lower_is_better=False),
        Metric("duplicates", "duplicate runs", ""),
    ),
}
#: Metrics compared as ratios (duplicates are compared as counts).
RATIO_METRICS = {
    workload: tuple(m for m in metrics if m.key != "duplicates")
    for workload, metrics in METRICS.items()
}


def completeness(workload: str, params: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Why a finished run does not count (empty when it does)."""
    if metrics.get("timed_out"):
        return "timed out"
    if workload == "burst" and metrics.get("ran", 0) < params["n"]:
        return f"only {metrics.get('ran')} of {params['n']} ran"
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
                metric.key: [run.get(metric.key) for run in complete]
                for metric in METRICS[case.workload]
            }
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


def evaluate_targets(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, each met / missed / not measured, with the numbers."""
    targets: list[dict[str, Any]] = []

    def add(key: str, text: str, ok: bool | None, measured: str) -> None:
        status = "not measured" if ok is None else ("met" if ok else "missed")
        targets.append({"id": key, "text": text, "status": status, "measured": measured})

    for store, label in (("redis", "Redis"), ("mariadb", "MariaDB")):
        case = _find(cases, f"schedule/batched/{store}")
        r = ratio(case, "wall_s", "reference") if case else None
        add(
            f"schedule-batched-{store}",
            f"schedule 500 batched on {label}: at most 0.8x the reference's time",
            None if r is None else r <= 0.8,
            "n/a" if r is None else f"{r:.2f}x",
        )
    for store, label in (("redis", "Redis"), ("mariadb", "MariaDB")):
        case = _find(cases, f"burst/event/{store}")
        wall = ratio(case, "wall_s", "reference") if case else None
        cpu = ratio(case, "cpu_s", "reference") if case else None
        total = ratio(case, "cpu_total_s", "reference") if case else None
        ok = None if wall is None or cpu is None else (wall <= 1.0 and cpu <= 1.0)
        measured = "n/a" if ok is None else f"wall {wall:.2f}x, CPU {cpu:.2f}x"
        if total is not None and ok is not None:
            measured += f" (CPU incl. server {total:.2f}x)"
        add(
            f"burst-{store}",
            f"20,000 due at once on {label}: wall and CPU at most 1.0x the reference",
            ok,
            measured,
        )
    for store, label in (("memory", "memory"), ("redis", "Redis"), ("mariadb", "MariaDB")):
        p99 = _median(cases, f"lag/event/{store}", "ours", "p99_ms")
        add(
            f"lag-event-{store}",
            f"event-driven lag p99 at most 3 ms on {label}",
            None if p99 is None else p99 <= 3.0,
            "n/a" if p99 is None else f"p99 {p99:.2f} ms",
        )
    for store, label in (("memory", "memory"), ("redis", "Redis"), ("mariadb", "MariaDB")):
        case = _find(cases, f"lag/polling/{store}")
        worst = _median(cases, f"lag/polling/{store}", "ours", "max_ms")
        interval_ms = case["params"]["polling_interval"] * 1000 if case else None
        ok = None if worst is None or interval_ms is None else worst <= interval_ms * 1.1
        add(
            f"lag-polling-{store}",
            f"polling lag bounded by the polling interval on {label} (max at most 1.1x the interval)",
            ok,
            "n/a" if ok is None else f"max {worst:.0f} ms, interval {interval_ms:.0f} ms",
        )
    one = _median(cases, "scale/p1/redis", "ours", "tasks_per_s")
    two = _median(cases, "scale/p2/redis", "ours", "tasks_per_s")
    dupes = [
        _total_duplicates(cases, f"scale/{variant}/redis", "ours") for variant in ("p1", "p2", "p4")
    ]
    seen = [d for d in dupes if d is not None]
    ok = None if one is None or two is None else (two >= 1.5 * one and not any(seen))
    add(
        "scale-redis",
        "2 worker processes on Redis: at least 1.5x the tasks/s of 1, and no duplicate runs",
        ok,
        "n/a"
        if ok is None or one is None or two is None
        else f"{two / one:.2f}x ({one:,.0f} -> {two:,.0f} tasks/s), duplicates {sum(seen):.0f}",
    )
    return targets
