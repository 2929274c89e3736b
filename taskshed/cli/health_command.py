"""``taskshed health``: exit 0 only if the store answers, its schema is current and workers are alive."""

from __future__ import annotations

import argparse
import asyncio

from taskshed.cli.connecting import connect
from taskshed.cli.options import (
    add_store_options,
    describe_store,
    positive_float,
    require_configured_store,
    store_from_args,
)
from taskshed.errors import TaskshedError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "health",
        help="exit 0 if the datastore is reachable, its schema current and enough workers alive",
        description="Check the configured datastore: it must answer and (SQL) have the schema "
        "this release needs; with --min-workers, at least that many workers must be "
        "registered and heartbeating. Prints one line per check; exits 0 when all pass, "
        "1 otherwise. For readiness probes and deploy gates.",
    )
    add_store_options(parser)
    parser.add_argument(
        "--min-workers",
        type=int,
        default=0,
        metavar="N",
        help="at least N live workers (0: don't check workers)",
    )
    parser.add_argument(
        "--callback",
        action="append",
        default=[],
        metavar="NAME",
        help="some live worker must serve this callback (repeatable)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="give up (unhealthy) after this long (10)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_configured_store(args, "taskshed health")
    try:
        return asyncio.run(asyncio.wait_for(_check(args), timeout=args.timeout))
    except TimeoutError:
        print(f"unhealthy: no answer within {args.timeout:g} s")
        return 1


async def _check(args: argparse.Namespace) -> int:
    where = describe_store(args)
    store = store_from_args(args)
    try:
        await connect(store, describe=where)
    except TaskshedError as exc:
        print(f"datastore: FAIL: {exc}")
        return 1
    try:
        print(f"datastore: ok, schema current ({where})")
        now = await store.current_time()
        workers = await store.fetch_workers(now)
    except Exception as exc:
        print(f"datastore: FAIL: {type(exc).__name__}: {exc}")
        return 1
    finally:
        await store.shutdown()
    healthy = True
    if args.min_workers or not args.callback:
        ok = len(workers) >= args.min_workers
        healthy &= ok
        wanted = f" (at least {args.min_workers} wanted)" if args.min_workers else ""
        print(f"workers: {'ok' if ok else 'FAIL'}: {len(workers)} alive{wanted}")
    served = {name for w in workers for name in w.callbacks}
    for name in args.callback:
        ok = name in served
        healthy &= ok
        print(f"callback {name!r}: {'ok: served' if ok else 'FAIL: no live worker serves it'}")
    return 0 if healthy else 1
