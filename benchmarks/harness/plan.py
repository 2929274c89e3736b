"""The workloads, their sizes (full and smoke), and the order runs happen in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.peers import STORE_LABELS, STORES, Peer

WORKLOADS = ("schedule", "burst", "lag", "scale")


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
            return f"run {p['n']:,} tasks due at once, one worker ({store})"
        if self.workload == "lag":
            worker = (
                "event-driven"
                if self.variant == "event"
                else f"polling every {p['polling_interval']} s"
            )
            return f"lag of {p['n']:,} tasks over {p['spread']} s, {worker} ({store})"
        plural = "es" if p["processes"] > 1 else ""
        return (
            f"{p['processes']} worker process{plural} polling every {p['polling_interval']} s, "
            f"{p['n']:,} tasks ({store})"
        )


@dataclass(frozen=True)
class Sizes:
    schedule_n: int
    burst_n: int
    burst_timeout: float
    lag_n: int
    lag_spread: float
    lag_lead: float
    polling_interval: float
    scale_n: int
    scale_processes: tuple[int, ...]
    scale_polling_interval: float
    scale_timeout: float


FULL = Sizes(
    schedule_n=500,
    burst_n=20_000,
    burst_timeout=90.0,
    lag_n=1_000,
    lag_spread=3.0,
    lag_lead=1.0,
    polling_interval=0.5,
    scale_n=5_000,
    scale_processes=(1, 2, 4),
    scale_polling_interval=0.025,
    scale_timeout=40.0,
)
SMOKE = Sizes(
    schedule_n=20,
    burst_n=200,
    burst_timeout=20.0,
    lag_n=20,
    lag_spread=0.2,
    lag_lead=0.5,
    polling_interval=0.1,
    scale_n=100,
    scale_processes=(1, 2),
    scale_polling_interval=0.05,
    scale_timeout=15.0,
)


def build_cases(
    sizes: Sizes, *, workloads: tuple[str, ...] = WORKLOADS, stores: tuple[str, ...] = STORES
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
            elif workload == "scale":
                if store == "memory":
                    continue  # nothing in memory is shared between processes
                for processes in sizes.scale_processes:
                    params = {
                        "n": sizes.scale_n,
                        "processes": processes,
                        "polling_interval": sizes.scale_polling_interval,
                        "timeout": sizes.scale_timeout,
                        "lead": 2.0,
                    }
                    cases.append(
                        Case(workload, f"p{processes}", store, params, 2 * sizes.scale_timeout + 90)
                    )
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
            able = [peer for peer in peers if case.store in peer.stores]
            if not able:
                continue
            shift = rep % len(able)
            for peer in able[shift:] + able[:shift]:
                order.append((rep, case, peer))
    return order
