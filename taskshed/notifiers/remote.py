"""What notifiers on a server connection share: the payload format, delivery, failure reports.

Used by the PostgreSQL (``LISTEN/NOTIFY``) and Redis (pub/sub) notifiers, and
open to a plugin's own. A payload is ``kind`` or ``kind:earliest``, with
``earliest`` in microseconds since the Unix epoch: a few dozen bytes.
Anything else on the channel reads as "re-check the store".
"""

from __future__ import annotations

import logging

from taskshed.notifiers.base import Notice, NoticeHandler, NoticeKind, Notifier
from taskshed.timeutils import from_epoch_micros, to_epoch_micros
from taskshed.workers.backoff import Backoff

log = logging.getLogger("taskshed.notifiers")

_KINDS = ("schedule", "released")


def encode_notice(notice: Notice) -> str:
    """``notice`` as the text sent on a channel."""
    if notice.earliest is None:
        return notice.kind
    return f"{notice.kind}:{to_epoch_micros(notice.earliest)}"


def decode_notice(payload: object) -> Notice:
    """The notice in ``payload`` (text or UTF-8 bytes); anything unexpected means "re-check"."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode()
        except UnicodeDecodeError:
            return Notice("schedule")
    if not isinstance(payload, str):
        return Notice("schedule")
    name, _, earliest = payload.partition(":")
    if name not in _KINDS:
        return Notice("schedule")
    kind: NoticeKind = "released" if name == "released" else "schedule"
    try:
        return Notice(kind, from_epoch_micros(int(earliest)) if earliest else None)
    except (ValueError, OverflowError):
        return Notice(kind)


class RemoteNotifier(Notifier):
    """A notifier whose channel lives on a server: subscribers, reconnect backoff, quiet failures.

    Subclasses connect, publish and listen; they call :meth:`deliver` for each
    notice heard (and with ``Notice("schedule")`` after a reconnect), and
    :meth:`publish_failed` / :meth:`publish_succeeded` around a send, so a
    server that is away is logged once, not once per notice.
    """

    def __init__(
        self, *, publish_timeout: float, reconnect_min: float, reconnect_max: float
    ) -> None:
        self.publish_timeout = publish_timeout
        self._backoff = Backoff(initial=reconnect_min, maximum=reconnect_max)
        self._handlers: list[NoticeHandler] = []
        self._closing = False
        self._publish_failure_logged = False
        self._outage_logged = False
        #: How many times listening was re-established after the link broke (for tests and logs).
        self.reconnects = 0

    def deliver(self, notice: Notice) -> None:
        """Hand ``notice`` to every subscriber; a handler that raises is logged, the others still run."""
        for handler in list(self._handlers):
            try:
                handler(notice)
            except Exception:
                log.exception("%s: a notice handler raised", self.describe())

    def publish_failed(self, exc: BaseException) -> None:
        """Log a notice that could not be sent, once per outage: it is a hint, workers still poll."""
        if not self._publish_failure_logged:
            log.warning(
                "%s: a notice could not be sent (%s: %s); workers see the change "
                "when they next poll",
                self.describe(),
                type(exc).__name__,
                exc,
            )
            self._publish_failure_logged = True

    def publish_succeeded(self) -> None:
        self._publish_failure_logged = False

    def listening_failed(self, exc: BaseException) -> None:
        """Log, once per outage, that listening can't be (re-)established; the caller retries."""
        if not self._outage_logged:
            log.warning(
                "%s: can't listen (%s: %s); retrying (every %.1f s at most)",
                self.describe(),
                type(exc).__name__,
                exc,
                self._backoff.maximum,
            )
            self._outage_logged = True

    def listening_again(self) -> None:
        """Listening is back after a break: count it, and have every subscriber re-check the store."""
        self._backoff.reset()
        self._outage_logged = False
        self.reconnects += 1
        log.info("%s: listening again", self.describe())
        # Notices sent while we were away are lost.
        self.deliver(Notice("schedule"))
