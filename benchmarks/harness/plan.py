"""The workloads, their sizes (full and smoke), and the order runs happen in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.peers import OURS_ONLY, STORE_LABELS, STORES, Peer

#: Every workload; ``million`` is long and runs only when asked for (``--only million``).
WORKLOADS = ("schedule", "burst", "lag", "scale", "million")
DEFAULT_WORKLOADS = ("schedule", "burst", "lag", "scale")
#: Stores shared between processes (the in-memory store is not).
SHARED = ("redis", "mariadb", "postgresql", "sqlite")
#: Stores with a notifier to cut in the outage case (MariaDB through the Redis notifier).
NOTIFIED = ("redis", "postgresql", "mariadb")


@dataclass(frozen=True)
class Case:
    """One workload, in one variant, on one store: every peer that can runs exactly this."""

    workload: str
    variant: str
    store: str
    params: dict[str, Any] = field(hash=False, compare=False)
    #: The longest one run may take before the runner kills it, seconds.
    timeout: float = field(default=120.0, hash=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.workload}/{self.variant}/{self.store}"

    def title(self) -> str:
        store = STORE_LABELS[self.store]
        p = self.params
        if self.workload == "schedule":
            how = "in one call" if self.variant == "batched" else "one by one"
            return f"schedule {p['n']:,} tasks {how} ({store})"
        if self.workload == "burst":
            if self.variant == "live":
                return f"{p['n']:,} tasks added to a running worker, due at once ({store})"
            if self.variant == "live-remote":
                return (
                    f"{p['n']:,} tasks added from another process to a running worker, "
                    f"due at once ({store})"
                )
            return f"run {p['n']:,} tasks due at once, one worker ({store})"
        if self.workload == "lag":
            if p.get("cross"):
                via = {
                    "cross": "the store's notifier, else polling",
                    "cross-redis": "a Redis notifier",
                    "cross-outage": f"a notifier cut every {p.get('cut_every', 0.3)} s",
                }[self.variant]
                return f"lag of {p['n']:,} tasks due on adding, worker in another process, {via} ({store})"
            worker = (
                "event-driven"
                if self.variant == "event"
                else f"polling every {p['polling_interval']} s"
            )
            return f"lag of {p['n']:,} tasks over {p['spread']} s, {worker} ({store})"
        if self.workload == "million":
            return f"{p['big']:,} stored tasks vs {p['small']:,} ({store})"
        plural = "es" if p["processes"] > 1 else ""
        callbacks = (
            f"callbacks awaiting {p['callback_ms']:g} ms, max_concurrency {p['max_concurrency']}"
            if p.get("callback_ms")
            else "no-op callbacks"
        )
        return (
            f"{p['processes']} worker process{plural} polling every {p['polling_interval']} s, "
            f"{p['n']:,} tasks, {callbacks} ({store})"
        )


@dataclass(frozen=True)
class Sizes:
    schedule_n: int
    burst_n: int
    burst_timeout: float
    live_lead: float
    lag_n: int
    lag_spread: float
    lag_lead: float
    polling_interval: float
    cross_n: int
    cross_gap: float
    cross_settle: float
    scale_n: int
    scale_processes: tuple[int, ...]
    scale_polling_interval: float
    scale_timeout: float
    io_n: int
    io_callback_ms: float
    io_concurrency: int
    million_big: int
    million_small: int
    million_batch: int
    million_samples: int


FULL = Sizes(
    schedule_n=500,
    burst_n=20_000,
    burst_timeout=90.0,
    live_lead=2.0,
    lag_n=1_000,
    lag_spread=3.0,
    lag_lead=1.0,
    polling_interval=0.5,
    cross_n=300,
    cross_gap=0.02,
    cross_settle=1.0,
    scale_n=5_000,
    scale_processes=(1, 2, 4),
    scale_polling_interval=0.025,
    scale_timeout=40.0,
    io_n=5_000,
    io_callback_ms=10.0,
    io_concurrency=10,
    million_big=1_000_000,
    million_small=10_000,
    million_batch=10_000,
    million_samples=7,
)
SMOKE = Sizes(
    schedule_n=20,
    burst_n=200,
    burst_timeout=20.0,
    live_lead=1.5,
    lag_n=20,
    lag_spread=0.2,
    lag_lead=1.5,
    polling_interval=0.1,
    cross_n=10,
    cross_gap=0.02,
    cross_settle=0.3,
    scale_n=100,
    scale_processes=(1, 2),
    scale_polling_interval=0.05,
    scale_timeout=15.0,
    io_n=100,
    io_callback_ms=10.0,
    io_concurrency=10,
    million_big=3_000,
    million_small=1_000,
    million_batch=1_000,
    million_samples=3,
)


def build_cases(
    sizes: Sizes,
    *,
    workloads: tuple[str, ...] = DEFAULT_WORKLOADS,
    stores: tuple[str, ...] = STORES,
) -> list[Case]:
    cases: list[Case] = []
    params: dict[str, Any]
    for workload in workloads:
        for store in stores:
            if workload == "schedule":
                for mode in ("batched", "single"):
                    cases.append(
                        Case(workload, mode, store, {"n": sizes.schedule_n, "mode": mode}, 120)
                    )
            elif workload == "burst":
                params = {"n": sizes.burst_n, "timeout": sizes.burst_timeout}
                cases.append(Case(workload, "event", store, params, 2 * sizes.burst_timeout + 60))
                for live in ("local", "remote"):
                    if live == "remote" and store not in SHARED:
                        continue
                    params = {
                        "n": sizes.burst_n,
                        "timeout": sizes.burst_timeout,
                        "live": live,
                        "lead": sizes.live_lead,
                    }
                    variant = "live" if live == "local" else "live-remote"
                    cases.append(
                        Case(workload, variant, store, params, 2 * sizes.burst_timeout + 90)
                    )
            elif workload == "lag":
                for worker in ("event", "polling"):
                    params = {
                        "n": sizes.lag_n,
                        "spread": sizes.lag_spread,
                        "lead": sizes.lag_lead,
                        "worker": worker,
                        "polling_interval": sizes.polling_interval,
                    }
                    cases.append(
                        Case(
                            workload, worker, store, params, sizes.lag_lead + sizes.lag_spread + 60
                        )
                    )
                if store not in SHARED:
                    continue
                cross = {
                    "n": sizes.cross_n,
                    "gap": sizes.cross_gap,
                    "settle": sizes.cross_settle,
                    "cross": True,
                    "max_sleep": 1.0,
                    "timeout": 30.0,
                }
                timeout = sizes.cross_n * sizes.cross_gap * 1.5 + 120
                cases.append(Case(workload, "cross", store, cross, timeout))
                if store == "mariadb":
                    cases.append(
                        Case(
                            workload, "cross-redis", store, {**cross, "notifier": "redis"}, timeout
                        )
                    )
                if store in NOTIFIED:
                    outage: dict[str, Any] = {**cross, "outage": True, "cut_every": 0.3}
                    if store == "mariadb":
                        outage["notifier"] = "redis"
                    cases.append(Case(workload, "cross-outage", store, outage, timeout))
            elif workload == "scale":
                if store not in SHARED:
                    continue  # nothing in memory is shared between processes
                for io in (False, True):
                    for processes in sizes.scale_processes:
                        params = {
                            "n": sizes.io_n if io else sizes.scale_n,
                            "processes": processes,
                            "polling_interval": sizes.scale_polling_interval,
                            "timeout": sizes.scale_timeout,
                            "lead": 2.0,
                        }
                        if io:
                            params["callback_ms"] = sizes.io_callback_ms
                            params["max_concurrency"] = sizes.io_concurrency
                        variant = f"io-p{processes}" if io else f"p{processes}"
                        cases.append(
                            Case(workload, variant, store, params, 2 * sizes.scale_timeout + 90)
                        )
            elif workload == "million":
                params = {
                    "big": sizes.million_big,
                    "small": sizes.million_small,
                    "batch": sizes.million_batch,
                    "samples": sizes.million_samples,
                    "claim": 50,
                    "slowlog": sizes.million_big >= 100_000,
                }
                cases.append(Case(workload, "1m", store, params, 3600))
    return cases


def run_order(
    cases: list[Case], peers: list[Peer], repetitions: int
) -> list[tuple[int, Case, Peer]]:
    """Every case on every peer, ``repetitions`` times; within a case the peers take turns going first.

    Alternating the order (ours first, then a peer first, ...) keeps a slow
    drift of the machine (another process, a warm cache) from favouring one side.
    """
    order: list[tuple[int, Case, Peer]] = []
    for rep in range(repetitions):
        for case in cases:
            able = [
                peer
                for peer in peers
                if case.store in peer.stores
                and (peer.is_ours or case.workload not in OURS_ONLY)
                and (peer.workloads is None or case.workload in peer.workloads)
            ]
            if not able:
                continue
            shift = rep % len(able)
            for peer in able[shift:] + able[:shift]:
                order.append((rep, case, peer))
    return order
