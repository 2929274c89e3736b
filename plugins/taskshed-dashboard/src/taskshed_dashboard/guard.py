"""The one ASGI middleware every request passes: security headers, authentication, CSRF, read-only.

It sits in front of every route, so no page or action can forget a check.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskshed_dashboard.auth import SESSION_COOKIE, Auth, BasicAuth, TokenAuth
from taskshed_dashboard.csrf import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, CsrfSigner

#: No inline script or style, no third-party origin, no framing: injected markup can't run.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Page URLs carry group names and task ids: never hand them to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Largest action body read (a selection of 1,000 ids of 255 characters fits easily).
MAX_BODY = 2 * 1024 * 1024
_LOGIN_PATH = "/login"
_LOGOUT_PATH = "/logout"
_STATIC_PREFIX = "/static/"


class Guard:
    """Wraps the dashboard's routes; see the module docstring."""

    def __init__(
        self, app: ASGIApp, *, signer: CsrfSigner, auth: Auth | None, read_only: bool
    ) -> None:
        self.app = app
        self.signer = signer
        self.auth = auth
        self.read_only = read_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        headers = _headers(scope)
        cookies = _cookies(headers.get("cookie", ""))
        method = scope["method"]
        static = path.startswith(_STATIC_PREFIX)

        csrf_cookie = cookies.get(CSRF_COOKIE, "")
        fresh_cookie = None
        if not _plausible_cookie(csrf_cookie):
            csrf_cookie = fresh_cookie = self.signer.new_cookie()
        scope = dict(scope)
        scope["state"] = {
            **scope.get("state", {}),
            "csrf_token": self.signer.token_for(csrf_cookie),
        }
        send = _with_headers(send, scope, fresh_cookie, cache=not static)

        if not static and self.auth is not None and path != _LOGIN_PATH:
            if not self._authenticated(headers, cookies):
                await self._refuse_unauthenticated(scope, send, headers)
                return
        if method in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if headers.get("sec-fetch-site") == "cross-site":
            await _plain(send, 403, "Cross-site requests are refused.")
            return
        if self.read_only and path not in (_LOGIN_PATH, _LOGOUT_PATH):
            await _plain(send, 403, "This dashboard is read-only: actions are turned off.")
            return
        body = await _read_body(receive)
        if body is None:
            await _plain(send, 413, "Request body too large.")
            return
        token = headers.get(CSRF_HEADER) or _form_token(headers, body)
        if fresh_cookie is not None or not self.signer.check(csrf_cookie, token):
            await _plain(send, 403, "CSRF check failed: reload the page and try again.")
            return
        await self.app(scope, _replay(body), send)

    def _authenticated(self, headers: dict[str, str], cookies: dict[str, str]) -> bool:
        auth = self.auth
        if auth is None:
            return True
        if auth.check_header(headers.get("authorization")):
            return True
        return isinstance(auth, TokenAuth) and auth.check_session(cookies.get(SESSION_COOKIE))

    async def _refuse_unauthenticated(
        self, scope: Scope, send: Send, headers: dict[str, str]
    ) -> None:
        if isinstance(self.auth, BasicAuth):
            await _plain(
                send,
                401,
                "Log in to see the taskshed dashboard.",
                extra=[(b"www-authenticate", b'Basic realm="taskshed dashboard", charset="UTF-8"')],
            )
            return
        wants_page = scope["method"] == "GET" and "hx-request" not in headers
        if wants_page:
            target = _route_path(scope)
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            location = f"{scope.get('root_path', '')}{_LOGIN_PATH}?next={quote(target, safe='')}"
            await _plain(send, 303, "Log in first.", extra=[(b"location", location.encode())])
            return
        await _plain(send, 401, "Log in to use the taskshed dashboard.")


def _route_path(scope: Scope) -> str:
    """The path inside the dashboard (without the prefix it is mounted under)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


def _headers(scope: Scope) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        # Repeated Cookie headers (HTTP/2) are joined; anything else keeps its first value.
        if name == "cookie" and name in result:
            result[name] += "; " + text
        else:
            result.setdefault(name, text)
    return result


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _plausible_cookie(value: str) -> bool:
    return 20 <= len(value) <= 100  # token_urlsafe(32) is 43 long


def _form_token(headers: dict[str, str], body: bytes) -> str | None:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    try:
        values = parse_qs(body.decode("utf-8"), max_num_fields=10_000)
    except (UnicodeDecodeError, ValueError):
        return None
    found = values.get(CSRF_FIELD)
    return found[0] if found else None


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A ``receive`` that hands the already-read body to the app once."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _with_headers(send: Send, scope: Scope, fresh_cookie: str | None, *, cache: bool) -> Send:
    root = scope.get("root_path", "") or ""
    cookie_path = (root.rstrip("/") or "") + "/"
    secure = "; Secure" if scope.get("scheme") == "https" else ""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            headers.extend(h for h in _SECURITY_HEADERS if h[0] not in present)
            if cache and b"cache-control" not in present:
                # Pages show live (and possibly personal) data: never keep them.
                headers.append((b"cache-control", b"no-store"))
            if fresh_cookie is not None:
                headers.append(
                    (
                        b"set-cookie",
                        f"{CSRF_COOKIE}={fresh_cookie}; Path={cookie_path}; HttpOnly; "
                        f"SameSite=Strict{secure}".encode(),
                    )
                )
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _plain(
    send: Send,
    status: int,
    text: str,
    *,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = text.encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
