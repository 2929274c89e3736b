"""Who may see the dashboard: a shared token, or basic-auth credentials.

Both compare in constant time. A token is typed once on the login page (or sent
as ``Authorization: Bearer``); the browser then keeps a session cookie that is
a MAC made with the token, so the token itself never sits in a cookie and
changing it ends every session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field

#: Cookie holding a token login (see :meth:`TokenAuth.new_session`).
SESSION_COOKIE = "taskshed_dashboard_session"


@dataclass(frozen=True)
class TokenAuth:
    """Access with one shared secret token (at least 16 characters)."""

    token: str = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.token, str) or len(self.token) < 16:
            raise ValueError("the dashboard token must be at least 16 characters long")

    def check_token(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def check_header(self, authorization: str | None) -> bool:
        scheme, _, value = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and self.check_token(value.strip())

    def new_session(self) -> str:
        """A cookie value proving a successful login: ``nonce.mac(token, nonce)``."""
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._mac(nonce)}"

    def check_session(self, cookie: str | None) -> bool:
        nonce, _, mac = (cookie or "").partition(".")
        return bool(nonce and mac) and hmac.compare_digest(mac, self._mac(nonce))

    def _mac(self, nonce: str) -> str:
        key = hashlib.sha256(b"taskshed-dashboard-session:" + self.token.encode()).digest()
        return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class BasicAuth:
    """Access with HTTP basic-auth credentials (the browser asks for them)."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.username or ":" in self.username:
            raise ValueError("the basic-auth user name must be non-empty and contain no ':'")
        if not self.password:
            raise ValueError("the basic-auth password must not be empty")

    @classmethod
    def parse(cls, text: str) -> BasicAuth:
        """``user:password`` as given to ``--basic-auth`` or the environment."""
        username, sep, password = text.partition(":")
        if not sep:
            raise ValueError("basic-auth credentials look like USER:PASSWORD")
        return cls(username, password)

    def check_header(self, authorization: str | None) -> bool:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, _, password = decoded.partition(":")
        # Both compared, always, so the time taken doesn't tell which one was wrong.
        good_user = hmac.compare_digest(username.encode(), self.username.encode())
        good_password = hmac.compare_digest(password.encode(), self.password.encode())
        return good_user and good_password


Auth = TokenAuth | BasicAuth


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the dashboard on this machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
