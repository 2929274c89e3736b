"""Notifiers: cross-process wake-ups for workers (hints next to polling, never the source of truth)."""

from taskshed.notifiers.base import Notice, NoticeHandler, Notifier
from taskshed.notifiers.local import LocalNotifier

__all__ = ["LocalNotifier", "Notice", "NoticeHandler", "Notifier"]
