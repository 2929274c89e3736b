"""The notifier contract: "the schedule changed" and "a claim was released", published and heard.

A notifier only ever *hints*. Workers still poll (``max_sleep``), so a notice
that is lost, late or duplicated delays a task by at most the polling
interval and never loses or repeats one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

NoticeKind = Literal["schedule", "released"]


@dataclass(frozen=True, slots=True)
class Notice:
    """What a notifier carries.

    ``kind="schedule"``: tasks were added or changed, the earliest of them due
    at ``earliest`` (``None``: unknown — re-check the store). ``kind="released"``:
    claims were handed back and are claimable now.
    """

    kind: NoticeKind
    earliest: datetime | None = None


#: Called for every notice heard, on the event loop that subscribed.
NoticeHandler = Callable[[Notice], None]


class Notifier(ABC):
    """Publishes notices and delivers them to subscribers in any process sharing the channel.

    ``start`` and ``shutdown`` are idempotent. ``publish`` never raises for a
    delivery problem (it logs and returns: a notice is a hint); ``subscribe``
    keeps listening across reconnects and, after reconnecting, calls the
    handler once with ``Notice("schedule")`` since notices may have been missed.
    """

    @abstractmethod
    async def start(self) -> None:
        """Open the channel (for publishing; listening starts with :meth:`subscribe`)."""

    @abstractmethod
    async def shutdown(self) -> None:
        """Stop listening and close the channel."""

    @abstractmethod
    async def publish(self, notice: Notice) -> None:
        """Send ``notice`` to every subscriber (this process's included)."""

    @abstractmethod
    async def subscribe(self, handler: NoticeHandler) -> None:
        """Deliver every notice heard from now on to ``handler``, until :meth:`shutdown`.

        Returns once listening has begun (or has failed and is being retried in
        the background).
        """

    def describe(self) -> str:
        """Where this notifier publishes, without credentials (for logs)."""
        return type(self).__name__
