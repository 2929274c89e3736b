"""Moved to :mod:`tests.support.waiting` (tests/core/test_workers.py still imports it from here)."""

from tests.support.waiting import wait_until

__all__ = ["wait_until"]
