"""A notifier within one process: the in-memory store's own channel."""

from __future__ import annotations

import asyncio
import threading

from taskshed.notifiers.base import Notice, NoticeHandler, Notifier

_Subscriber = tuple[asyncio.AbstractEventLoop, NoticeHandler]


class LocalChannel:
    """Where the notices of one in-process store travel; shared by its notifiers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber] = []

    def add(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)

    def remove(self, subscriber: _Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def deliver(self, notice: Notice) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            loop, handler = subscriber
            try:
                loop.call_soon_threadsafe(handler, notice)
            except RuntimeError:  # that loop has closed
                self.remove(subscriber)


class LocalNotifier(Notifier):
    """Delivers notices to the subscribers of one :class:`LocalChannel` (any thread, any loop)."""

    def __init__(self, channel: LocalChannel | None = None) -> None:
        self.channel = channel or LocalChannel()
        self._mine: list[_Subscriber] = []

    async def start(self) -> None:
        return None

    async def shutdown(self) -> None:
        mine, self._mine = self._mine, []
        for subscriber in mine:
            self.channel.remove(subscriber)

    async def publish(self, notice: Notice) -> None:
        self.channel.deliver(notice)

    async def subscribe(self, handler: NoticeHandler) -> None:
        subscriber = (asyncio.get_running_loop(), handler)
        self._mine.append(subscriber)
        self.channel.add(subscriber)

    def describe(self) -> str:
        return "in-process"
