"""CSRF protection: a signed double-submit token.

The browser gets a random value in an HttpOnly, SameSite=Strict cookie; every
page carries ``mac(secret, value)``, which each action must send back (the
``X-CSRF-Token`` header htmx adds, or a ``csrf_token`` form field). Another
site can make the browser send the cookie, but can neither read it nor compute
the MAC, so a forged POST carries no valid token and is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Cookie holding the random half.
CSRF_COOKIE = "taskshed_dashboard_csrf"
#: Where an action sends the signed half.
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class CsrfSigner:
    """Makes and checks the tokens of one dashboard (one secret)."""

    def __init__(self, secret: bytes | None = None) -> None:
        # A random secret per app: tokens die with the process, which only
        # means a reload of open pages after a restart.
        self._key = hashlib.sha256(
            b"taskshed-dashboard-csrf:" + (secret or secrets.token_bytes(32))
        )

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(32)

    def token_for(self, cookie: str) -> str:
        return hmac.new(self._key.digest(), cookie.encode(), hashlib.sha256).hexdigest()

    def check(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        return hmac.compare_digest(self.token_for(cookie), token)
