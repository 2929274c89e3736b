"""Talking to the dashboard app over HTTP in-process (httpx's ASGI transport)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
from taskshed_dashboard import create_app

from taskshed.datastores.base import DataStore

_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def client_for(app: Any, base_url: str = "http://dash.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base_url, follow_redirects=False
    )


def dashboard_client(
    store: DataStore, *, base_url: str = "http://dash.test", **options: Any
) -> httpx.AsyncClient:
    """A client of a new dashboard on ``store`` (the test's fixture owns and stops the store)."""
    return client_for(create_app(store, **options), base_url)


def csrf_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


async def act(
    client: httpx.AsyncClient,
    action: str,
    *,
    ids: list[str] | None = None,
    group: str | None = None,
    confirm: bool = False,
    htmx: bool = True,
    page: str = "/tasks",
) -> httpx.Response:
    """Load ``page`` (for the cookie and token), then post an action as the page would."""
    token = csrf_token((await client.get(page)).text)
    data: dict[str, Any] = {"csrf_token": token, "action": action, "back": page}
    if group is not None:
        data.update(scope="group", group=group)
    else:
        data.update(scope="tasks", ids=ids or [])
    if confirm:
        data["confirm"] = "yes"
    headers = {"HX-Request": "true"} if htmx else {}
    return await client.post("/actions", data=data, headers=headers)


class Links(HTMLParser):
    """Every URL a page points at: href, src, action, hx-get, hx-post."""

    ATTRIBUTES = ("href", "src", "action", "hx-get", "hx-post")

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in self.ATTRIBUTES and value is not None:
                self.urls.append(value)


def links_of(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.urls


class Elements(HTMLParser):
    """Every element with its attributes (to look for injected ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.append(data)


def elements_of(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def text_of(html: str) -> str:
    """What a reader sees: tags dropped, entities decoded, spaces collapsed."""
    import html as html_module
    import re as re_module

    plain = re_module.sub(r"<[^>]+>", "", html)
    return re_module.sub(r"\s+", " ", html_module.unescape(plain))
