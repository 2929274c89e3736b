"""Mounted inside another application, under a path prefix, every link and action follows it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from taskshed_dashboard import create_app

from taskshed.datastores.base import DataStore
from tests.dashboard.seed import HOSTILE_ID, seed
from tests.dashboard.web import client_for, csrf_token, links_of

PREFIX = "/ops/taskshed"


def fastapi_host(dashboard: Any) -> Any:
    app = FastAPI()

    @app.get("/")
    def home() -> dict[str, str]:
        return {"app": "host"}

    app.mount(PREFIX, dashboard)
    return app


def starlette_host(dashboard: Any) -> Any:
    return Starlette(
        routes=[
            Route("/", lambda request: PlainTextResponse("host")),
            Mount(PREFIX, app=dashboard),
        ]
    )


@pytest.mark.parametrize("host", [fastapi_host, starlette_host], ids=["fastapi", "starlette"])
async def test_every_link_and_action_stays_under_the_prefix(
    store: DataStore, host: Callable[[Any], Any]
) -> None:
    await seed(store)
    app = host(create_app(store))
    async with client_for(app) as client:
        assert (await client.get("/")).status_code == 200
        pages = [
            f"{PREFIX}/",
            f"{PREFIX}/tasks",
            f"{PREFIX}/tasks?group=mail&size=25",
            f"{PREFIX}/task?id=heartbeat",
            f"{PREFIX}/groups?group=mail",
            f"{PREFIX}/workers",
        ]
        urls: set[str] = set()
        for page in pages:
            response = await client.get(page)
            assert response.status_code == 200, page
            urls.update(links_of(response.text))
        assert urls, "the pages link somewhere"
        for url in urls:
            assert url.startswith(PREFIX + "/"), url
        for url in sorted(u for u in urls if "/static/" in u):
            assert (await client.get(url)).status_code == 200, url
        found = await client.get(f"{PREFIX}/tasks", params={"id": HOSTILE_ID})
        assert found.headers["location"].startswith(f"{PREFIX}/task?id=")
        # The CSRF cookie is scoped to the dashboard, and actions work through the mount.
        listing = await client.get(f"{PREFIX}/tasks")
        token = csrf_token(listing.text)
        response = await client.post(
            f"{PREFIX}/actions",
            data={"action": "pause", "scope": "tasks", "ids": "email-42", "csrf_token": token},
            headers={"HX-Request": "true"},
        )
        assert "Paused 1 task." in response.text
        assert f'href="{PREFIX}/task?id=email-42"' in response.text
    [task] = await store.fetch_tasks(["email-42"])
    assert task.paused


async def test_the_csrf_cookie_path_is_the_mount_point(store: DataStore) -> None:
    async with client_for(starlette_host(create_app(store))) as client:
        response = await client.get(f"{PREFIX}/")
    assert f"Path={PREFIX}/;" in response.headers["set-cookie"]


async def test_an_applications_own_scheduler_can_drive_the_dashboard(store: DataStore) -> None:
    """Passing the app's scheduler lets a worker attached to it hear of changes at once."""
    from taskshed.schedulers import AsyncScheduler

    await seed(store)
    scheduler = AsyncScheduler(store, notifier=None)
    await scheduler.start()
    try:
        async with client_for(create_app(scheduler)) as client:
            token = csrf_token((await client.get("/tasks")).text)
            response = await client.post(
                "/actions",
                data={
                    "action": "run_now",
                    "scope": "tasks",
                    "ids": "email-43",
                    "csrf_token": token,
                },
            )
        assert "Made due now: 1 task." in response.text
        [task] = await store.fetch_tasks(["email-43"])
        assert task.run_at <= await store.current_time()
    finally:
        await scheduler.shutdown()
