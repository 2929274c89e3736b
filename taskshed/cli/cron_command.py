"""``taskshed cron``: preview a cron schedule's next fire times, in its own time zone."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from taskshed.cli.options import positive_int
from taskshed.cron import CronSchedule
from taskshed.timeutils import utcnow

MAX_COUNT = 10_000


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cron",
        help="print the next fire times of a cron expression",
        description="Print the next fire times of a cron expression, one ISO 8601 timestamp "
        "with its UTC offset per line, in the given time zone, following taskshed's DST "
        "rules (a time skipped by a spring-forward runs once right after the gap; a "
        "repeated time runs once, at its first occurrence). Exits 1 for a bad "
        "expression or zone.",
    )
    parser.add_argument(
        "expression",
        metavar="EXPR",
        help="5 fields (minute hour day-of-month month day-of-week), 6 with a leading "
        "seconds field, or a macro such as @daily; quote it",
    )
    parser.add_argument(
        "--timezone", metavar="TZ", help="IANA time zone, e.g. Europe/Berlin (default: UTC)"
    )
    parser.add_argument(
        "--after",
        metavar="ISO8601",
        type=_iso_datetime,
        help="start after this time (default: now); without an offset it is a time in TZ",
    )
    parser.add_argument(
        "--count",
        metavar="N",
        type=_count,
        default=5,
        help=f"how many fire times to print (default: 5, at most {MAX_COUNT})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    schedule = CronSchedule.parse(args.expression, args.timezone)
    after = args.after or utcnow()
    if after.tzinfo is None:
        after = after.replace(tzinfo=schedule.zone)
    printed = 0
    for at in schedule.iter_after(after):
        print(at.astimezone(schedule.zone).isoformat())
        printed += 1
        if printed == args.count:
            return 0
    print(
        f"taskshed: {args.expression!r} has no further fire time "
        f"(printed {printed} of {args.count})",
        file=sys.stderr,
    )
    return 0 if printed else 1


def _iso_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2027-03-28T01:30 or 2027-03-28T01:30+01:00"
        ) from None


def _count(text: str) -> int:
    value = positive_int(text)
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_COUNT}, not {value}")
    return value
