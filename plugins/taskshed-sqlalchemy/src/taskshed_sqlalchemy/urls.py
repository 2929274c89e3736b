"""From a taskshed datastore URL to a SQLAlchemy URL: scheme aliases and engine options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taskshed.errors import ConfigurationError
from taskshed.urls import URL

if TYPE_CHECKING:
    import sqlalchemy.engine

#: Every scheme the plugin serves, and the SQLAlchemy driver name it means.
SCHEMES: dict[str, str] = {
    "mysql+asyncmy": "mysql+asyncmy",
    "mysql": "mysql+asyncmy",
    "mariadb+asyncmy": "mariadb+asyncmy",
    "mariadb": "mariadb+asyncmy",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "sqlite": "sqlite+aiosqlite",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}

#: Query keys taskshed reads itself (pool sizing) instead of handing them to the driver.
_ENGINE_KEYS = {"pool_size": int, "max_overflow": int, "pool_recycle": int, "pool_timeout": float}


@dataclass(frozen=True)
class EngineSpec:
    """Everything needed to build an ``AsyncEngine``; its ``repr`` hides the password."""

    url: sqlalchemy.engine.URL
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()


def engine_spec(url: URL | str) -> EngineSpec:
    """Translate ``url`` (any alias in :data:`SCHEMES`) for SQLAlchemy.

    ``?pool_size=``, ``?max_overflow=``, ``?pool_recycle=`` and
    ``?pool_timeout=`` size the connection pool; other query keys go to the
    driver unchanged.
    """
    import sqlalchemy.engine

    parsed = URL.parse(url)
    try:
        drivername = SCHEMES[parsed.scheme]
    except KeyError:
        known = ", ".join(sorted(SCHEMES))
        raise ConfigurationError(
            f"{parsed.scheme!r} is not a SQL datastore URL scheme; known: {known}"
        ) from None
    query = dict(parsed.query)
    options: dict[str, Any] = {}
    for key, convert in _ENGINE_KEYS.items():
        if key in query:
            raw = query.pop(key)
            try:
                options[key] = convert(raw)
            except ValueError:
                raise ConfigurationError(f"?{key}= must be a number, not {raw!r}") from None
    database = parsed.database
    if drivername.startswith("sqlite"):
        if parsed.host:
            raise ConfigurationError(
                "a SQLite URL has no host: sqlite+aiosqlite:///relative.db or "
                "sqlite+aiosqlite:////absolute/path.db"
            )
    elif drivername.startswith(("mysql", "mariadb")):
        query.setdefault("charset", "utf8mb4")
        if "ssl" in query:
            options["connect_args"] = {"ssl": _mysql_ssl_flag(query.pop("ssl"))}
    sa_url = sqlalchemy.engine.URL.create(
        drivername,
        username=parsed.username,
        password=parsed.password,
        host=parsed.host,
        port=parsed.port,
        database=database or None,
        query=query,
    )
    return EngineSpec(sa_url, options)


_TRUE = {"true", "1", "yes", "on", "required"}
_FALSE = {"false", "0", "no", "off", "disabled"}


def _mysql_ssl_flag(raw: str) -> bool:
    """``?ssl=true`` asks asyncmy for TLS with the system's CAs; ``?ssl=false`` for none."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(
        f"?ssl= must be true or false, not {raw!r}; for your own CA or a client "
        "certificate use ?ssl_ca=, ?ssl_cert= and ?ssl_key= (file paths)"
    )


def offline_url(url: URL | str) -> str:
    """A password-free URL naming only the dialect, for rendering SQL offline."""
    spec = engine_spec(url)
    return f"{spec.url.drivername}://"
