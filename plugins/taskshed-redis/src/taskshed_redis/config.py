"""How to reach Redis: the 0.10 ``RedisConfig``, plus the database number and URL forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from taskshed.errors import ConfigurationError
from taskshed.urls import URL
from taskshed_redis.keys import DEFAULT_PREFIX

#: Query parameters a datastore URL may carry, besides ``db`` for ``unix://``.
STORE_OPTIONS = ("prefix", "hash_tag", "allow_eviction")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class RedisConfig:
    """Connection settings, as in TaskShed 0.10, plus ``db`` and the TLS CA file.

    ``unix_socket_path`` takes the place of host and port when given. The
    password is left out of ``repr()``.
    """

    host: str = "localhost"
    port: int = 6379
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    unix_socket_path: str | None = None
    ssl: bool = False
    db: int = 0
    #: A CA bundle for ``ssl=True`` (default: the system's trust store).
    ssl_ca_certs: str | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.asyncio.Redis``.

        redis-py's own retries are off: a script whose reply was lost may have
        run, and only the store knows whether sending it again is safe
        (:mod:`taskshed_redis.retries`).
        """
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        kwargs: dict[str, Any] = {
            "retry": Retry(NoBackoff(), 0),
            "db": self.db,
            "username": self.username,
            "password": self.password,
            # Bytes in, bytes out: a record that isn't UTF-8 is then one
            # malformed record, not a failed read of every task beside it.
            "decode_responses": False,
        }
        if self.unix_socket_path:
            kwargs["unix_socket_path"] = self.unix_socket_path
        else:
            kwargs["host"] = self.host
            kwargs["port"] = self.port
            if self.ssl:
                kwargs["ssl"] = True
                if self.ssl_ca_certs:
                    kwargs["ssl_ca_certs"] = self.ssl_ca_certs
        return kwargs

    def describe(self) -> str:
        """Where this points, without credentials (for repr and errors)."""
        where = (
            f"unix://{self.unix_socket_path}"
            if self.unix_socket_path
            else f"{'rediss' if self.ssl else 'redis'}://{self.host}:{self.port}"
        )
        return f"{where} db={self.db}"


@dataclass(frozen=True)
class URLOptions:
    """What a datastore URL says: where to connect, and the store's own options."""

    config: RedisConfig
    prefix: str = DEFAULT_PREFIX
    hash_tag: bool = False
    allow_eviction: bool = False


def parse_url(url: URL | str) -> URLOptions:
    """Read ``redis://``, ``rediss://`` or ``unix://`` URLs.

    ``redis://[user[:password]@]host[:port][/db][?prefix=...&hash_tag=1]``;
    ``rediss://`` is the same over TLS (``?ssl_ca_certs=/path`` for a private
    CA); ``unix://[user[:password]@]/path/to/redis.sock[?db=N&...]``.
    """
    url = URL.parse(url)
    query = dict(url.query)
    prefix = query.pop("prefix", DEFAULT_PREFIX)
    hash_tag = _boolean(query.pop("hash_tag", "0"), "hash_tag")
    allow_eviction = _boolean(query.pop("allow_eviction", "0"), "allow_eviction")
    ssl_ca_certs = query.pop("ssl_ca_certs", None)
    if url.scheme in ("redis", "rediss"):
        db_text = url.database or query.pop("db", "0")
        config = RedisConfig(
            host=url.host or "localhost",
            port=url.port or 6379,
            username=url.username or None,
            password=url.password,
            ssl=url.scheme == "rediss",
            db=_db(db_text),
            ssl_ca_certs=ssl_ca_certs,
        )
    elif url.scheme == "unix":
        if not url.path:
            raise ConfigurationError(
                "a unix:// Redis URL needs a socket path: unix:///path/redis.sock"
            )
        config = RedisConfig(
            username=url.username or None,
            password=url.password,
            unix_socket_path=url.path,
            db=_db(query.pop("db", "0")),
        )
    else:
        raise ConfigurationError(f"the Redis datastore does not serve {url.scheme}:// URLs")
    if query:
        raise ConfigurationError(
            f"unknown option(s) in Redis datastore URL {url}: {', '.join(sorted(query))}; "
            f"known: db, {', '.join(STORE_OPTIONS)}, ssl_ca_certs"
        )
    return URLOptions(
        config=config, prefix=prefix, hash_tag=hash_tag, allow_eviction=allow_eviction
    )


def _db(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"the Redis database must be a number, not {text!r}") from None
    if value < 0:
        raise ConfigurationError("the Redis database number must not be negative")
    return value


def _boolean(text: str, what: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{what} must be 1/0 (true/false), not {text!r}")
