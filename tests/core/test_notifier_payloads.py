"""The payload every networked notifier sends: small, exact to the microsecond, and forgiving."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskshed.notifiers.base import Notice
from taskshed.notifiers.remote import decode_notice, encode_notice


@pytest.mark.parametrize(
    "notice",
    [
        Notice("schedule", datetime(2040, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)),
        Notice("schedule"),
        Notice("released"),
    ],
)
def test_payloads_are_small_and_round_trip(notice: Notice) -> None:
    payload = encode_notice(notice)
    assert len(payload.encode()) < 64
    assert decode_notice(payload) == notice
    assert decode_notice(payload.encode()) == notice, "bytes from a driver read the same"


@pytest.mark.parametrize(
    "odd",
    ["", "nonsense", "schedule:not-a-number", "released:" + "9" * 40, b"\xff\xfe", None, 42],
)
def test_anything_else_on_the_channel_means_look_again(odd: object) -> None:
    notice = decode_notice(odd)
    assert notice.earliest is None
    assert notice.kind in ("schedule", "released")
