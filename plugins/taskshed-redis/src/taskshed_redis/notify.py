"""A Redis notifier: notices over pub/sub, on connections of its own.

Pub/sub channels are global to a Redis server (database numbers don't scope
them), so the channel names both the database and the key prefix:
``taskshed:notices:<db>:<prefix>``. Two stores on one server, on different
databases or prefixes, never wake each other; every process configured with
the same URL shares one channel.

Publishing goes through a client of the notifier's own (or the store's
injected one). Listening holds one dedicated connection; a background task
reads it, pings it when idle so that a dead link is noticed, and when it
breaks (server restart, ``CLIENT KILL``, a dead network) reconnects with
backoff, subscribes again and tells each subscriber ``Notice("schedule")``,
since notices sent meanwhile were missed.

Payloads are those of every networked notifier
(:mod:`taskshed.notifiers.remote`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from taskshed.errors import ConfigurationError
from taskshed.notifiers.base import Notice, NoticeHandler, Notifier
from taskshed.notifiers.remote import RemoteNotifier, decode_notice, encode_notice
from taskshed.urls import URL
from taskshed_redis.config import RedisConfig, parse_url

if TYPE_CHECKING:
    from taskshed_redis.datastore import RedisDataStore

log = logging.getLogger(__name__)


def channel_name(db: int, prefix: str) -> str:
    """The channel of the store with key ``prefix`` in database ``db``."""
    return f"taskshed:notices:{db}:{prefix}"


class RedisNotifier(RemoteNotifier):
    """Notices over Redis pub/sub.

    Build it with :meth:`from_url` (``TASKSHED_NOTIFIER=redis://...``) or
    :meth:`for_store` (a Redis store's own notifier). ``check_interval`` is
    how long the listening connection may stay silent before it is pinged;
    ``reconnect_max`` caps the backoff between reconnection attempts.
    """

    def __init__(
        self,
        make_client: Callable[[], Any],
        channel: str,
        where: str,
        *,
        owns_client: bool = True,
        check_interval: float = 15.0,
        publish_timeout: float = 5.0,
        reconnect_min: float = 0.05,
        reconnect_max: float = 5.0,
    ) -> None:
        super().__init__(
            publish_timeout=publish_timeout,
            reconnect_min=reconnect_min,
            reconnect_max=reconnect_max,
        )
        self._make_client = make_client
        self._owns_client = owns_client
        self.channel = channel
        self._where = where
        self.check_interval = check_interval
        self._client: Any = None
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    # ------------------------------------------------------------------ building

    @classmethod
    def from_url(cls, url: URL | str, **options: Any) -> RedisNotifier:
        """The notifier a ``redis://``, ``rediss://`` or ``unix://`` URL names.

        The URL is read like a Redis datastore URL (database, ``prefix``), so
        the notifier URL of a Redis store is that store's own URL.
        """
        parsed = parse_url(url)
        config = parsed.config
        return cls(
            _client_factory(config),
            channel_name(config.db, parsed.prefix),
            config.describe(),
            **options,
        )

    @classmethod
    def for_store(cls, store: RedisDataStore, **options: Any) -> RedisNotifier | None:
        """The notifier of ``store``, or ``None`` for a Redis Cluster client (no pub/sub here)."""
        injected = getattr(store, "_injected", None)
        if injected is None:
            config = store.config
            return cls(
                _client_factory(config),
                channel_name(config.db, store.keys.prefix),
                config.describe(),
                **options,
            )
        pool = getattr(injected, "connection_pool", None)
        if pool is None:  # a cluster client: its pub/sub isn't available through redis.asyncio
            return None
        db = int(pool.connection_kwargs.get("db", 0) or 0)
        return cls(
            lambda: injected,
            channel_name(db, store.keys.prefix),
            "injected client",
            owns_client=False,
            **options,
        )

    # ------------------------------------------------------------------ the contract

    async def start(self) -> None:
        if self._client is not None:
            return
        self._closing = False
        self._client = self._make_client()

    async def shutdown(self) -> None:
        self._closing = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
        await self._close_pubsub()
        self._handlers = []
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def publish(self, notice: Notice) -> None:
        client = self._client
        if client is None:
            log.debug("%s: not started, notice %s dropped", self.describe(), notice)
            return
        try:
            await asyncio.wait_for(
                client.publish(self.channel, encode_notice(notice)), timeout=self.publish_timeout
            )
        except Exception as exc:
            self.publish_failed(exc)
            return
        self.publish_succeeded()

    async def subscribe(self, handler: NoticeHandler) -> None:
        if self._client is None:
            await self.start()
        self._handlers.append(handler)
        if self._listener is None:
            self._listening = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(), name=f"{self!r} listener")
            # Return once listening has begun, or after a while if the server is away
            # (the listener keeps trying in the background).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), timeout=self.publish_timeout)

    def describe(self) -> str:
        return f"Redis pub/sub {self.channel} on {self._where}"

    def __repr__(self) -> str:
        return f"RedisNotifier({self.channel} on {self._where})"

    # ------------------------------------------------------------------ listening

    async def _open_pubsub(self) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await asyncio.wait_for(pubsub.subscribe(self.channel), timeout=self.publish_timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise
        self._pubsub = pubsub
        # redis-py reconnects a pub/sub connection by itself (and subscribes again) when
        # a read fails; this callback hears of it, so subscribers re-check the store.
        pubsub.connection.register_connect_callback(self._on_reconnect)

    def _on_reconnect(self, connection: object) -> None:
        if not self._closing:
            self.listening_again()

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), timeout=2)

    async def _listen(self) -> None:
        """Read notices; on any failure of the link, reconnect and tell subscribers to re-check."""
        first = True
        while not self._closing:
            try:
                await self._open_pubsub()
            except Exception as exc:
                await self._close_pubsub()
                self.listening_failed(exc)
                await asyncio.sleep(self._backoff.next_delay())
                continue
            self._listening.set()
            if first:
                self._backoff.reset()
            else:
                self.listening_again()
            first = False
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._closing:
                    log.warning(
                        "%s: connection lost (%s: %s); reconnecting",
                        self.describe(),
                        type(exc).__name__,
                        exc,
                    )
            await self._close_pubsub()

    async def _read(self) -> None:
        pubsub = self._pubsub
        heard_at = time.monotonic()
        ping_sent_at: float | None = None
        while not self._closing:
            # Bounded from outside too: a read that hangs in the driver counts as a dead link.
            message = await asyncio.wait_for(
                pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0),
                timeout=1.0 + self.publish_timeout,
            )
            now = time.monotonic()
            if message is not None:
                heard_at, ping_sent_at = now, None
                if message.get("type") == "message":
                    self.deliver(decode_notice(message.get("data")))
                continue
            if ping_sent_at is not None:
                if now - ping_sent_at >= self.publish_timeout:
                    raise ConnectionError(f"no answer to PING within {self.publish_timeout} s")
            elif now - heard_at >= self.check_interval:
                # A silent link may be a dead one: its answer to a PING tells.
                await asyncio.wait_for(pubsub.ping(), timeout=self.publish_timeout)
                ping_sent_at = now


def _client_factory(config: RedisConfig) -> Callable[[], Any]:
    def make() -> Any:
        import redis.asyncio as aioredis

        return aioredis.Redis(**config.client_kwargs())

    return make


def open_notifier(url: URL) -> Notifier:
    """The ``taskshed_notifier_backends`` factory for Redis URLs."""
    try:
        import redis.asyncio  # noqa: F401
    except ImportError as exc:  # pragma: no cover - redis is this plugin's dependency
        raise ConfigurationError(
            f"the Redis notifier needs redis-py: pip install 'taskshed[redis]' ({exc})"
        ) from None
    return RedisNotifier.from_url(url)
