"""Datastore URLs: parsed once here for every plugin, and never shown with their password."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from taskshed.errors import ConfigurationError

_MASK = "***"


@dataclass(frozen=True)
class URL:
    """``scheme://user:password@host:port/path?query`` with the password kept out of sight.

    ``str()`` and ``repr()`` mask the password; :meth:`render` with
    ``hide_password=False`` is for handing the URL to a driver.
    """

    scheme: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | URL) -> URL:
        if isinstance(text, URL):
            return text
        if not isinstance(text, str) or "://" not in text:
            raise ConfigurationError(
                "a datastore URL looks like scheme://..., e.g. memory:// or "
                "sqlite+aiosqlite:///taskshed.db"
            )
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError(
                f"the port in datastore URL {_mask_text(text)} is not a number"
            ) from None
        return cls(
            scheme=parts.scheme.lower(),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            host=parts.hostname,
            port=port,
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        )

    @property
    def database(self) -> str | None:
        """The path without its leading slash (a database name or number, a file)."""
        return self.path[1:] if self.path.startswith("/") else (self.path or None)

    def with_scheme(self, scheme: str) -> URL:
        return replace(self, scheme=scheme)

    def render(self, *, hide_password: bool = True) -> str:
        auth = ""
        if self.username is not None or self.password is not None:
            auth = quote(self.username or "", safe="")
            if self.password is not None:
                auth += ":" + (_MASK if hide_password else quote(self.password, safe=""))
            auth += "@"
        netloc = auth + (self.host or "")
        if self.host and ":" in self.host:
            netloc = auth + f"[{self.host}]"
        if self.port is not None:
            netloc += f":{self.port}"
        text = f"{self.scheme}://{netloc}{quote(self.path, safe='/:')}"
        if self.query:
            text += "?" + urlencode(self.query)
        return text

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"URL({self.render()!r})"


def _mask_text(text: str) -> str:
    """A best-effort masked form of a URL string that failed to parse."""
    head, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return text
    auth, _, tail = rest.rpartition("@")
    if ":" in auth:
        auth = auth.split(":", 1)[0] + ":" + _MASK
    return f"{head}://{auth}@{tail}"
