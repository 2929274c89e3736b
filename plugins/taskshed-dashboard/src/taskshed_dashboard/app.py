"""``create_app``: the dashboard as an ASGI application, standalone or mounted in another one."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from taskshed.datastores.base import DataStore
from taskshed.errors import TaskshedError
from taskshed.schedulers import AsyncScheduler
from taskshed_dashboard import actions, login, pages
from taskshed_dashboard.auth import Auth, TokenAuth
from taskshed_dashboard.csrf import CsrfSigner
from taskshed_dashboard.formatting import FILTERS, href
from taskshed_dashboard.guard import Guard
from taskshed_dashboard.masking import mask_secrets
from taskshed_dashboard.steering import Steering

log = logging.getLogger("taskshed.dashboard")
_HERE = Path(__file__).parent

try:
    VERSION = version("taskshed-dashboard")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0"


class Dashboard:
    """Everything the routes share: the store, the scheduler acting on it, and the settings."""

    def __init__(
        self,
        target: DataStore | AsyncScheduler,
        *,
        read_only: bool,
        hide_kwargs: bool,
        auth: Auth | None,
        store_label: str | None,
    ) -> None:
        if isinstance(target, AsyncScheduler):
            self.scheduler = target
            self._owns_scheduler = False
        elif isinstance(target, DataStore):
            self.scheduler = AsyncScheduler(target)
            self._owns_scheduler = True
        else:
            raise TypeError(f"create_app needs a DataStore or an AsyncScheduler, not {target!r}")
        self.store: DataStore = self.scheduler.datastore
        self.steering = Steering(self.scheduler)
        self.read_only = read_only
        self.hide_kwargs = hide_kwargs
        self.auth = auth
        self.store_label = mask_secrets(store_label or repr(self.store))
        self.templates = _environment()
        self._started = False
        self._start_lock = asyncio.Lock()

    async def ensure_started(self) -> None:
        """Start the store (and our scheduler's notifier) on first use.

        Mounted inside another application the dashboard gets no lifespan
        events, so it starts lazily; ``start()`` is idempotent on every store.
        """
        if self._started:
            return
        async with self._start_lock:
            if self._started:
                return
            if self._owns_scheduler:
                await self.scheduler.start()
            else:
                await self.store.start()
            self._started = True

    async def close(self) -> None:
        """Stop what :meth:`ensure_started` started (only when we built the scheduler)."""
        if self._started and self._owns_scheduler:
            await self.scheduler.shutdown()
        self._started = False

    def render(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        here = (
            request.url.path[len(root) :] if request.url.path.startswith(root) else request.url.path
        )
        if request.url.query:
            here += "?" + request.url.query
        page = self.templates.get_template(name).render(
            request=request,
            root=root,
            here=here or "/",
            link=lambda path, **params: href(root, path, params),
            static=lambda path: f"{root}/static/{path}?v={VERSION}",
            csrf_token=request.state.csrf_token,
            read_only=self.read_only,
            hide_kwargs=self.hide_kwargs,
            store_label=self.store_label,
            token_login=isinstance(self.auth, TokenAuth),
            version=VERSION,
            **context,
        )
        return HTMLResponse(page, status_code=status_code)


@functools.cache
def _environment() -> jinja2.Environment:
    """One environment per process: templates compile once, whatever the number of apps."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        # Everything shown is escaped: task ids, groups, kwargs and errors are user input.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def create_app(
    datastore: DataStore | AsyncScheduler,
    *,
    read_only: bool = False,
    hide_kwargs: bool = False,
    auth: Auth | None = None,
    secret: bytes | None = None,
    store_label: str | None = None,
) -> Starlette:
    """The dashboard as an ASGI app over ``datastore`` (or an application's own scheduler).

    Mount it anywhere (``app.mount("/tasks", create_app(store))``); every link
    follows the prefix. The store is started on first use; when the dashboard
    runs as the top-level app, its lifespan stops what it started.

    :param read_only: hide every action and refuse them (HTTP 403).
    :param hide_kwargs: never show task kwargs (they may hold personal data).
    :param auth: a :class:`~taskshed_dashboard.auth.TokenAuth` or
        :class:`~taskshed_dashboard.auth.BasicAuth`; ``None`` leaves access
        to the application it is mounted in (or to loopback, see the CLI).
    :param secret: key for the CSRF tokens; random per app by default (set one
        when several processes serve the same dashboard behind a balancer).
    :param store_label: how the store is named on the pages (masked anyway).
    """
    dashboard = Dashboard(
        datastore,
        read_only=read_only,
        hide_kwargs=hide_kwargs,
        auth=auth,
        store_label=store_label,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await dashboard.close()

    routes = [
        Route("/", pages.overview, name="overview"),
        Route("/tasks", pages.task_list, name="tasks"),
        Route("/task", pages.task_detail, name="task"),
        Route("/groups", pages.groups, name="groups"),
        Route("/workers", pages.workers, name="workers"),
        Route("/actions", actions.act, methods=["POST"], name="act"),
        Route("/login", login.login, methods=["GET", "POST"], name="login"),
        Route("/logout", login.logout, methods=["POST"], name="logout"),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                Guard,
                signer=CsrfSigner(secret),
                auth=auth,
                read_only=read_only,
            )
        ],
        exception_handlers={TaskshedError: pages.store_error},
        lifespan=lifespan,
    )
    app.state.dashboard = dashboard
    return app
