"""The runner: venvs, runs in alternating order, medians, summary JSON, charts and docs page."""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import charts, machine, report, venvs
from harness.execute import Outcome, run_driver, service_reachable, write_log
from harness.peers import BENCHMARKS, PEERS, PEERS_BY_KEY, STORES, Peer
from harness.plan import DEFAULT_WORKLOADS, FULL, SMOKE, WORKLOADS, build_cases, run_order
from harness.summary import evaluate_targets, ratio, ratio_metrics_of, summarize_case

ROOT = BENCHMARKS.parent
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
DOCS_CHARTS = ROOT / "docs" / "assets" / "benchmarks"
SUMMARY = BENCHMARKS / "results" / "summary.json"
RAW = BENCHMARKS / "results" / "raw"
SERVERS = {
    "redis": (
        os.environ.get("BENCH_REDIS_HOST", "127.0.0.1"),
        int(os.environ.get("BENCH_REDIS_PORT", "6379")),
    ),
    "mariadb": (
        os.environ.get("BENCH_MYSQL_HOST", "127.0.0.1"),
        int(os.environ.get("BENCH_MYSQL_PORT", "3306")),
    ),
    "postgresql": (
        os.environ.get("BENCH_PG_HOST", "127.0.0.1"),
        int(os.environ.get("BENCH_PG_PORT", "5432")),
    ),
}
TOOLING = Peer("tooling", "chart tooling", "", ("matplotlib>=3.8",), ())


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Run taskshed side by side with TaskShed 0.10.0, APScheduler 3, arq, "
        "procrastinate and saq; write docs/benchmarks.md, benchmarks/results/summary.json and charts.",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, one repetition, only peer venvs that exist already; writes under --out",
    )
    parser.add_argument(
        "--repetitions",
        type=int,
        default=None,
        help="runs per workload and peer (default 3; smoke 1)",
    )
    parser.add_argument(
        "--only",
        type=_csv,
        default=DEFAULT_WORKLOADS,
        help=f"workloads to run (default: {','.join(DEFAULT_WORKLOADS)}; also: million, "
        "long: a million stored tasks per store)",
    )
    parser.add_argument(
        "--peers",
        type=_csv,
        default=tuple(PEERS_BY_KEY),
        help="peers to run (default: all; 'ours' always runs)",
    )
    parser.add_argument(
        "--stores", type=_csv, default=STORES, help=f"stores (default: {','.join(STORES)})"
    )
    parser.add_argument(
        "--variants",
        type=_csv,
        default=None,
        help="only these variants of the chosen workloads (e.g. live,live-remote,cross,io-p1)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the cases of the summary already written there that this run did not repeat "
        "(e.g. a full run, then --only million --merge); the page says which run each came from",
    )
    parser.add_argument(
        "--serial",
        action="store_true",
        help="smoke: run the stores one after the other (a smoke run overlaps them by default)",
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="don't create missing peer venvs (skip those peers)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write summary, page and charts here instead of the committed places",
    )
    args = parser.parse_args(argv)
    unknown = (
        set(args.only) - set(WORKLOADS)
        or set(args.peers) - set(PEERS_BY_KEY)
        or set(args.stores) - set(STORES)
    )
    if unknown:
        parser.error(f"unknown name(s): {', '.join(sorted(unknown))}")
    if args.repetitions is None:
        args.repetitions = 1 if args.smoke else 3
    if args.repetitions < 1:
        parser.error("--repetitions must be at least 1")
    return args


def _command(argv: list[str]) -> str:
    return shlex.join([".venv/bin/python", "benchmarks/run.py", *argv])


def _say(text: str) -> None:
    print(text, flush=True)


def _choose_peers(args: argparse.Namespace) -> tuple[list[Peer], dict[str, str]]:
    """The peers that will run, and why the others won't."""
    chosen: list[Peer] = []
    skipped: dict[str, str] = {}
    for peer in PEERS:
        if not peer.is_ours and peer.key not in args.peers:
            continue
        if not venvs.is_ready(peer):
            if args.smoke or args.no_install:
                skipped[peer.key] = (
                    f"no venv at {peer.venv.relative_to(ROOT)} (smoke and --no-install don't create one)"
                )
                continue
            try:
                venvs.ensure(peer, _say)
            except subprocess.CalledProcessError as exc:
                skipped[peer.key] = f"could not install {' '.join(peer.requirements)}: {exc}"
                continue
        chosen.append(peer)
    return chosen, skipped


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    raw = RAW / ("smoke-" + stamp if args.smoke else stamp)
    if args.out is not None:
        raw = args.out / "raw"
        out_dir = args.out
        summary_path, page_path, chart_path = (
            out_dir / "summary.json",
            out_dir / "benchmarks.md",
            out_dir / "charts",
        )
        chart_link = "charts"
    elif args.smoke:
        out_dir = RAW / "smoke"
        summary_path, page_path, chart_path = (
            out_dir / "summary.json",
            out_dir / "benchmarks.md",
            out_dir / "charts",
        )
        chart_link = "charts"
    else:
        summary_path, page_path, chart_path = SUMMARY, DOCS_PAGE, DOCS_CHARTS
        chart_link = "assets/benchmarks"
    load_start = machine.load_average()

    _say(f"benchmarks: {'smoke' if args.smoke else 'full'} run, {args.repetitions} repetition(s)")
    peers, skipped = _choose_peers(args)
    for key, why in skipped.items():
        _say(f"  skipping {key}: {why}")

    stores = [s for s in args.stores]
    down = {
        s: f"{s} server not reachable at {SERVERS[s][0]}:{SERVERS[s][1]}"
        for s in stores
        if s in SERVERS and not service_reachable(*SERVERS[s])
    }
    for why in down.values():
        _say(f"  {why}: its workloads are skipped")

    # Once per peer and store: create databases and schemas, learn versions.
    peer_info: dict[str, dict[str, Any]] = {}
    servers: dict[str, str | None] = {}
    broken: dict[tuple[str, str], Outcome] = {}
    lanes = not args.serial and args.smoke
    for peer in peers:
        described = run_driver(peer, "describe", "memory", {}, 60)
        info = described.metrics if described.status == "ok" else {}
        peer_info[peer.key] = {
            "label": peer.label,
            "version": info.get("version"),
            "adaptations": info.get("adaptations", []),
            "stores": [s for s in peer.stores if s in stores],
            "requirements": list(peer.requirements),
            "settings": info.get("settings", {}),
        }
        for adaptation in info.get("adaptations", []):
            _say(f"  adapted: {adaptation}")

    def prepare(store: str) -> None:
        for peer in peers:
            if store not in peer.stores:
                continue
            prepared = run_driver(peer, "prepare", store, {}, 120)
            if prepared.status == "error":
                broken[(peer.key, store)] = prepared
                _say(f"  {peer.key} on {store}: setup failed: {prepared.reason}")
                write_log(raw, f"prepare-{peer.key}-{store}.log", prepared.stderr)
            elif prepared.status == "ok" and prepared.metrics.get("server"):
                servers[store] = prepared.metrics["server"]

    _in_lanes([s for s in stores if s not in down], prepare, parallel=lanes)

    sizes = SMOKE if args.smoke else FULL
    cases = build_cases(
        sizes, workloads=tuple(w for w in WORKLOADS if w in args.only), stores=tuple(stores)
    )
    if args.variants is not None:
        cases = [case for case in cases if case.variant in args.variants]
    order = run_order(cases, peers, args.repetitions)
    runs: list[dict[str, Any]] = []
    na_cache: dict[tuple[str, str], Outcome] = {}
    numbered = list(enumerate(order, 1))

    def run_store(store: str) -> None:
        for index, (rep, case, peer) in numbered:
            if case.store != store:
                continue
            run_key = (peer.key, case.id)
            if case.store in down:
                outcome = Outcome("na", reason=down[case.store])
            elif (peer.key, case.store) in broken:
                failed = broken[(peer.key, case.store)]
                outcome = Outcome("error", reason=f"setup failed: {failed.reason}")
            elif run_key in na_cache:
                outcome = na_cache[run_key]
            else:
                outcome = run_driver(peer, case.workload, case.store, case.params, case.timeout)
                if outcome.status == "na":
                    na_cache[run_key] = outcome
            runs.append(
                {
                    "index": index,
                    "rep": rep,
                    "case": case.id,
                    "peer": peer.key,
                    "status": outcome.status,
                    "reason": outcome.reason,
                    "metrics": outcome.metrics,
                    "seconds": round(outcome.seconds, 3),
                }
            )
            if outcome.status == "error":
                write_log(
                    raw, f"{index:04d}-{peer.key}-{case.id.replace('/', '-')}.log", outcome.stderr
                )
            _say(
                f"[{index:3d}/{len(order)}] {case.id:<28} {peer.key:<13} {_brief(case.workload, outcome)}"
            )

    if lanes:
        _say("  smoke: one lane per store, in parallel (numbers mean nothing in a smoke run)")
    _in_lanes(list(dict.fromkeys(case.store for case in cases)), run_store, parallel=lanes)
    runs.sort(key=lambda run: run.pop("index"))

    raw.mkdir(parents=True, exist_ok=True)
    (raw / "runs.json").write_text(json.dumps(runs, indent=1, sort_keys=True))
    summaries = [summarize_case(case, [r for r in runs if r["case"] == case.id]) for case in cases]
    summary: dict[str, Any] = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": _command(argv),
        "smoke": args.smoke,
        "repetitions": args.repetitions,
        "machine": machine.describe(),
        "servers": servers,
        "load_average": {"start": load_start, "end": machine.load_average()},
        "peers": peer_info,
        "skipped_peers": skipped,
        "duration_s": round(time.monotonic() - started, 1),
        "cases": summaries,
    }
    if args.merge:
        summary = _merged(summary_path, summary)
    summary["targets"] = evaluate_targets(summary["cases"])
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")

    drawn = _draw(summary_path, summary, chart_path, install=not args.smoke)
    page_path.parent.mkdir(parents=True, exist_ok=True)
    page_path.write_text(report.render(summary, chart_dir=chart_link if drawn else None) + "\n")
    _print_summary(summary)
    _say(
        f"wrote {summary_path}, {page_path}{', charts in ' + str(chart_path) if drawn else ' (no charts)'}; raw runs in {raw}"
    )
    _say(f"took {time.monotonic() - started:.0f} s")
    ours_failed = [r for r in runs if r["peer"] == "ours" and r["status"] == "error"]
    for run in ours_failed:
        _say(f"ours failed: {run['case']} (run {run['rep'] + 1}): {run['reason']}")
    return 1 if ours_failed else 0


def _brief(workload: str, outcome: Outcome) -> str:
    if outcome.status != "ok":
        return f"{outcome.status}: {outcome.reason}"
    m = outcome.metrics
    if workload == "schedule":
        text = f"{m['wall_s'] * 1e3:9.1f} ms"
    elif workload == "burst":
        text = f"wall {_num(m.get('wall_s'))} s, cpu {_num(m.get('cpu_s'))} s, ran {m['ran']}"
        if "drain_s" in m:
            text += f", drained {_num(m['drain_s'])} s, duplicates {m['duplicates']}"
    elif workload == "lag":
        text = f"p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms, max {m['max_ms']:.1f} ms, ran {m['ran']}"
        if "cuts" in m:
            text += f", {m['cuts']} cut(s)"
    elif workload == "million":
        text = (
            f"add {_num(m.get('add_rate'), '.0f')}/s, claim {_num(m.get('claim_small_ms'))} -> "
            f"{_num(m.get('claim_big_ms'))} ms, wake-up {_num(m.get('wakeup_small_ms'))} -> "
            f"{_num(m.get('wakeup_big_ms'))} ms, {_num(m.get('bytes_per_task'), '.0f')} B/task"
        )
    else:
        text = f"{m['tasks_per_s']:,.0f} tasks/s, duplicates {m['duplicates']}, {m['per_process']}"
    if m.get("timed_out"):
        text += " TIMED OUT"
    return f"{text}  ({outcome.seconds:.1f} s)"


def _merged(path: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """This run's cases, plus the earlier summary's cases it did not repeat (stamped with their run)."""
    if not path.exists():
        return summary
    earlier = json.loads(path.read_text())
    if earlier.get("smoke") != summary["smoke"]:
        raise SystemExit(f"--merge: {path} is a {'smoke' if earlier.get('smoke') else 'full'} run")
    fresh = {case["id"] for case in summary["cases"]}
    for case in summary["cases"]:
        case["run"] = summary["generated"]
    kept = [
        {**case, "run": case.get("run", earlier["generated"])}
        for case in earlier["cases"]
        if case["id"] not in fresh
    ]
    merged = dict(summary)
    merged["cases"] = kept + summary["cases"]
    merged["peers"] = {**earlier.get("peers", {}), **summary["peers"]}
    merged["servers"] = {**earlier.get("servers", {}), **summary["servers"]}
    merged["merged_runs"] = sorted(
        {case["run"] for case in merged["cases"]} | set(earlier.get("merged_runs", []))
    )
    return merged


def _in_lanes(stores: list[str], work: Any, *, parallel: bool) -> None:
    """``work(store)`` for every store: one after the other, or one thread per store.

    Runs on different stores never share data (each store has its own
    database, prefix or file), so a smoke run may overlap them; a measuring
    run never does.
    """
    if not parallel:
        for store in stores:
            work(store)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(len(stores), 1)) as pool:
        for future in [pool.submit(work, store) for store in stores]:
            future.result()


def _num(value: Any, spec: str = ".2f") -> str:
    return "?" if value is None else format(value, spec)


def _draw(summary_path: Path, summary: dict[str, Any], chart_path: Path, *, install: bool) -> bool:
    """Charts with matplotlib here, or with a tooling venv's matplotlib; False if neither."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        charts.render(summary, chart_path)
        return True
    if not venvs.is_ready(TOOLING):
        if not install:
            _say(
                "  matplotlib is not installed here: no charts (a full run installs it in benchmarks/.venvs/tooling)"
            )
            return False
        venvs.ensure(TOOLING, _say)
    script = Path(charts.__file__)
    subprocess.run(
        [str(TOOLING.python), str(script), str(summary_path), str(chart_path)], check=True
    )
    return True


def _print_summary(summary: dict[str, Any]) -> None:
    others = [k for k in summary["peers"] if k != "ours"]
    _say("")
    _say("ours / theirs (median):")
    for case in summary["cases"]:
        for metric in ratio_metrics_of(case):
            cells = []
            for key in others:
                value = ratio(case, metric.key, key)
                if value is not None:
                    cells.append(f"{key} {value:.2f}x")
            if cells:
                _say(f"  {case['id']:<24} {metric.key:<12} " + ", ".join(cells))
    _say("targets:")
    for target in summary["targets"]:
        _say(f"  {target['status']:<13} {target['text']}: {target['measured']}")


if __name__ == "__main__":
    sys.exit(main())
