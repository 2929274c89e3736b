"""PNG charts of a summary (matplotlib). Also runnable alone: ``python charts.py SUMMARY.json OUTDIR``.

Run standalone when the runner's interpreter lacks matplotlib: the runner then
calls this file with an interpreter that has it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

STORE_LABELS = {
    "memory": "memory",
    "redis": "Redis",
    "mariadb": "MariaDB",
    "postgresql": "PostgreSQL",
    "sqlite": "SQLite",
}
COLORS = {
    "ours": "#1f77b4",
    "reference": "#ff7f0e",
    "apscheduler": "#2ca02c",
    "arq": "#d62728",
    "procrastinate": "#9467bd",
    "saq": "#8c564b",
}
CHARTS = (
    "schedule.png",
    "burst.png",
    "live-burst.png",
    "lag.png",
    "cross-lag.png",
    "scale.png",
    "million.png",
)


def _peers(summary: dict[str, Any]) -> list[str]:
    return list(summary["peers"])


def _value(case: dict[str, Any] | None, peer: str, metric: str) -> float | None:
    if case is None:
        return None
    value = case["results"].get(peer, {}).get("median", {}).get(metric)
    return None if value is None else float(value)


def _case(summary: dict[str, Any], case_id: str) -> dict[str, Any] | None:
    return next((c for c in summary["cases"] if c["id"] == case_id), None)


def _grouped(
    ax: Any,
    groups: list[str],
    peers: list[str],
    labels: dict[str, str],
    values: dict[str, list[float | None]],
) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    width = 0.8 / max(len(peers), 1)
    for index, peer in enumerate(peers):
        xs, ys = [], []
        for g, value in enumerate(values[peer]):
            if value is not None and value > 0:
                xs.append(g + (index - (len(peers) - 1) / 2) * width)
                ys.append(value)
        if xs:  # a peer with nothing here gets no bar and no legend entry
            ax.bar(xs, ys, width, label=labels[peer], color=COLORS.get(peer))
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(axis="y", alpha=0.3)


def render(summary: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    out.mkdir(parents=True, exist_ok=True)
    peers = _peers(summary)
    labels = {key: summary["peers"][key]["label"] for key in peers}
    stores = [s for s in STORE_LABELS if any(c["store"] == s for c in summary["cases"])]
    written: list[Path] = []

    # Scheduling time.
    fig, ax = plt.subplots(figsize=(9, 4))
    groups: list[str] = []
    values: dict[str, list[float | None]] = {peer: [] for peer in peers}
    for mode in ("batched", "single"):
        for store in stores:
            case = _case(summary, f"schedule/{mode}/{store}")
            if case is None:
                continue
            groups.append(
                f"{STORE_LABELS[store]}\n{'batched' if mode == 'batched' else 'one by one'}"
            )
            for peer in peers:
                values[peer].append(_value(case, peer, "wall_s"))
    if groups:
        _grouped(ax, groups, peers, labels, values)
        n = summary["cases"][0]["params"].get("n") if summary["cases"] else None
        ax.set_title(
            f"Time to schedule {n} tasks (median, lower is better)" if n else "Time to schedule"
        )
        ax.set_ylabel("seconds (log)")
        ax.legend(fontsize=8)
    written.append(_save(fig, out / "schedule.png", plt))

    # Burst: wall and CPU.
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, title in (
        (axes[0], "wall_s", "wall time"),
        (axes[1], "cpu_total_s", "CPU time (process + store server)"),
    ):
        groups, values = [], {peer: [] for peer in peers}
        for store in stores:
            case = _case(summary, f"burst/event/{store}")
            if case is None:
                continue
            groups.append(STORE_LABELS[store])
            for peer in peers:
                value = _value(case, peer, metric)
                if value is None and metric == "cpu_total_s":
                    value = _value(case, peer, "cpu_s")  # memory: no server
                values[peer].append(value)
        if groups:
            _grouped(ax, groups, peers, labels, values)
            ax.set_title(f"Tasks due at once, one worker: {title}", fontsize=9)
            ax.set_ylabel("seconds (log)")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    written.append(_save(fig, out / "burst.png", plt))

    # Lag: p99 bars, p50 and max marks.
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, variant in zip(axes, ("event", "polling"), strict=True):
        groups, values = [], {peer: [] for peer in peers}
        marks: list[tuple[float, float | None, float | None]] = []
        width = 0.8 / max(len(peers), 1)
        for g, store in enumerate(stores):
            case = _case(summary, f"lag/{variant}/{store}")
            if case is None:
                continue
            groups.append(STORE_LABELS[store])
            for index, peer in enumerate(peers):
                values[peer].append(_value(case, peer, "p99_ms"))
                x = g + (index - (len(peers) - 1) / 2) * width
                marks.append((x, _value(case, peer, "p50_ms"), _value(case, peer, "max_ms")))
        if groups:
            _grouped(ax, groups, peers, labels, values)
            for x, p50, worst in marks:
                if p50:
                    ax.plot([x], [p50], marker="o", color="black", markersize=3)
                if worst:
                    ax.plot([x], [worst], marker="v", color="black", markersize=4)
            what = "event-driven" if variant == "event" else "polling"
            ax.set_title(f"Lag, {what}: bar p99, dot p50, triangle max", fontsize=9)
            ax.set_ylabel("milliseconds (log)")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    written.append(_save(fig, out / "lag.png", plt))

    # Scaling.
    scale_stores = [
        s
        for s in stores
        if any(c["id"].startswith("scale/") and c["store"] == s for c in summary["cases"])
    ]
    fig, axes = plt.subplots(
        1, max(len(scale_stores), 1), figsize=(4 * max(len(scale_stores), 1), 4), squeeze=False
    )
    for ax, store in zip(axes[0], scale_stores, strict=False):
        all_cases = [
            c for c in summary["cases"] if c["workload"] == "scale" and c["store"] == store
        ]
        cases = []
        for io in (False, True):
            group = sorted(
                (c for c in all_cases if bool(c["params"].get("callback_ms")) == io),
                key=lambda c: c["params"]["processes"],
            )
            cases += group
            for peer in peers:
                xs, ys, dupes = [], [], []
                for case in group:
                    value = _value(case, peer, "tasks_per_s")
                    if value:
                        xs.append(case["params"]["processes"])
                        ys.append(value)
                        dupes.append(case["results"][peer].get("median", {}).get("duplicates", 0))
                if xs:
                    ax.plot(
                        xs,
                        ys,
                        marker="o",
                        linestyle="--" if io else "-",
                        label=f"{labels[peer]}{', 10 ms I/O' if io else ', no-op'}",
                        color=COLORS.get(peer),
                    )
                    for x, y, d in zip(xs, ys, dupes, strict=True):
                        if d:
                            ax.annotate(
                                f"{d:,.0f} dup.",
                                (x, y),
                                fontsize=7,
                                textcoords="offset points",
                                xytext=(4, 4),
                            )
        ax.set_title(f"Worker processes on {STORE_LABELS[store]}: unique tasks/s", fontsize=9)
        ax.set_xlabel("worker processes")
        ax.set_xticks(sorted({c["params"]["processes"] for c in cases}))
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    written.append(_save(fig, out / "scale.png", plt))
    written += _live_burst(summary, out, plt, peers, labels, stores)
    written += _cross_lag(summary, out, plt, peers, labels)
    written += _million(summary, out, plt)
    return written


def _live_burst(
    summary: dict[str, Any],
    out: Path,
    plt: Any,
    peers: list[str],
    labels: dict[str, str],
    stores: list[str],
) -> list[Path]:
    variants = [
        v for v in ("live", "live-remote") if any(c["variant"] == v for c in summary["cases"])
    ]
    if not variants:
        return []
    fig, axes = plt.subplots(1, len(variants), figsize=(5.5 * len(variants), 4), squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=True):
        groups: list[str] = []
        values: dict[str, list[float | None]] = {peer: [] for peer in peers}
        for store in stores:
            case = _case(summary, f"burst/{variant}/{store}")
            if case is None:
                continue
            groups.append(STORE_LABELS[store])
            for peer in peers:
                values[peer].append(_value(case, peer, "wall_s"))
        if groups:
            _grouped(ax, groups, peers, labels, values)
            where = "same process" if variant == "live" else "from another process"
            ax.set_title(
                f"Burst added to a running worker ({where}):\ndue instant to last start", fontsize=9
            )
            ax.set_ylabel("seconds (log)")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    return [_save(fig, out / "live-burst.png", plt)]


def _cross_lag(
    summary: dict[str, Any], out: Path, plt: Any, peers: list[str], labels: dict[str, str]
) -> list[Path]:
    cases = [
        c for c in summary["cases"] if c["workload"] == "lag" and c["variant"].startswith("cross")
    ]
    if not cases:
        return []
    fig, ax = plt.subplots(figsize=(11, 4.5))
    groups = []
    values: dict[str, list[float | None]] = {peer: [] for peer in peers}
    marks: list[tuple[float, float | None, float | None]] = []
    width = 0.8 / max(len(peers), 1)
    for g, case in enumerate(cases):
        name = STORE_LABELS[case["store"]]
        if case["variant"] == "cross-redis":
            name += "\n+ Redis notifier"
        elif case["variant"] == "cross-outage":
            name += "\nnotifier cut"
        elif not case["results"].get("ours", {}).get("median", {}).get("notifier"):
            name += "\n(polling)"
        groups.append(name)
        for index, peer in enumerate(peers):
            values[peer].append(_value(case, peer, "p99_ms"))
            x = g + (index - (len(peers) - 1) / 2) * width
            marks.append((x, _value(case, peer, "p50_ms"), _value(case, peer, "max_ms")))
    _grouped(ax, groups, peers, labels, values)
    for x, p50, worst in marks:
        if p50:
            ax.plot([x], [p50], marker="o", color="black", markersize=3)
        if worst:
            ax.plot([x], [worst], marker="v", color="black", markersize=4)
    ax.axhline(10, color="grey", linestyle=":", linewidth=1)
    ax.set_title(
        "Lag with the worker in another process: bar p99, dot p50, triangle max (dotted: 10 ms target)",
        fontsize=9,
    )
    ax.set_ylabel("milliseconds (log)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return [_save(fig, out / "cross-lag.png", plt)]


def _million(summary: dict[str, Any], out: Path, plt: Any) -> list[Path]:
    cases = [c for c in summary["cases"] if c["workload"] == "million"]
    if not cases:
        return []
    fig, ax = plt.subplots(figsize=(9, 4))
    steps = (("claim_ratio", "claim 50"), ("add_ratio", "add 50"), ("wakeup_ratio", "wake-up"))
    width = 0.8 / len(steps)
    for index, (key, label) in enumerate(steps):
        xs, ys = [], []
        for g, case in enumerate(cases):
            value = _value(case, "ours", key)
            if value:
                xs.append(g + (index - (len(steps) - 1) / 2) * width)
                ys.append(value)
        ax.bar(xs, ys, width, label=label)
    ax.axhline(1.2, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([STORE_LABELS[c["store"]] for c in cases], fontsize=8)
    ax.set_yscale("log")
    big, small = cases[0]["params"]["big"], cases[0]["params"]["small"]
    ax.set_title(
        f"Ours with {big:,} stored / with {small:,} stored (dotted: 1.2x target)", fontsize=9
    )
    ax.set_ylabel("ratio (log)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return [_save(fig, out / "million.png", plt)]


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    # No timestamps in the file: the same numbers give the same bytes.
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    for written_path in render(data, Path(sys.argv[2])):
        print(written_path)
