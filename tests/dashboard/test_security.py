"""Safety: CSRF on every action, escaping of hostile input, CSP, auth, read-only, hidden kwargs."""

from __future__ import annotations

import base64

import pytest
from markupsafe import escape
from taskshed_dashboard import BasicAuth, TokenAuth
from taskshed_dashboard.guard import CONTENT_SECURITY_POLICY

from taskshed.datastores.base import DataStore
from taskshed.errors import DataStoreError
from taskshed.models import task_state
from tests.dashboard.seed import (
    HOSTILE_GROUP,
    HOSTILE_ID,
    HOSTILE_STRINGS,
    SECRET_KWARG,
    seed,
)
from tests.dashboard.web import act, csrf_token, dashboard_client, elements_of

TOKEN = "s3cret-dashboard-token-123"
PAGES = ["/", "/tasks", "/task?id=email-42", "/groups?group=mail", "/workers"]


async def is_paused(store: DataStore, task_id: str) -> bool:
    [task] = await store.fetch_tasks([task_id])
    return task_state(task, await store.current_time()) == "paused"


# ---------------------------------------------------------------------- CSRF


async def test_a_forged_post_is_refused_and_changes_nothing(store: DataStore) -> None:
    await seed(store)
    form = {"action": "pause", "scope": "tasks", "ids": "email-42"}
    async with dashboard_client(store) as victim, dashboard_client(store) as other_app:
        # 1. A cross-site form post: the browser sends the cookie, but no token.
        await victim.get("/tasks")
        no_token = await victim.post("/actions", data=form)
        # 2. The attacker's own valid token (from their own session) with the victim's cookie.
        async with dashboard_client(store) as attacker:
            own_token = csrf_token((await attacker.get("/tasks")).text)
        foreign = await victim.post("/actions", data={**form, "csrf_token": own_token})
        # 3. A token signed by another dashboard (another secret).
        other_token = csrf_token((await other_app.get("/tasks")).text)
        victim_cookie = victim.cookies.get("taskshed_dashboard_csrf")
        other_app.cookies.set("taskshed_dashboard_csrf", victim_cookie or "")
        other_secret = await victim.post("/actions", data={**form, "csrf_token": other_token})
        # 4. A request with no cookie at all.
        victim_token = csrf_token((await victim.get("/tasks")).text)
        async with dashboard_client(store) as stranger:
            no_cookie = await stranger.post("/actions", data={**form, "csrf_token": victim_token})
        # 5. The right token, but the browser says the request comes from another site.
        cross_site = await victim.post(
            "/actions",
            data={**form, "csrf_token": victim_token},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        for response in (no_token, foreign, other_secret, no_cookie, cross_site):
            assert response.status_code == 403, response.text
        assert not await is_paused(store, "email-42")
        # The same request with the page's own token goes through (by form field or header).
        by_field = await victim.post("/actions", data={**form, "csrf_token": victim_token})
        assert by_field.status_code == 200 and "Paused 1 task." in by_field.text
        by_header = await victim.post(
            "/actions",
            data={**form, "action": "resume"},
            headers={"X-CSRF-Token": victim_token, "HX-Request": "true"},
        )
        assert "Resumed 1 task." in by_header.text
    assert no_token.text.startswith("CSRF check failed")


async def test_every_unsafe_method_needs_the_token(store: DataStore) -> None:
    async with dashboard_client(store) as client:
        await client.get("/")
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = await client.request(method, "/actions")
            assert response.status_code == 403, method
        login = await client.post("/login", data={"token": "x"})
        assert login.status_code == 403


async def test_the_csrf_cookie_is_httponly_and_samesite_strict(store: DataStore) -> None:
    async with dashboard_client(store) as client:
        response = await client.get("/")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("taskshed_dashboard_csrf=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie


# ---------------------------------------------------------------------- escaping


def assert_inert(html: str, where: str) -> None:
    """No hostile string appears as markup; nothing it holds became an element or handler."""
    for hostile in HOSTILE_STRINGS:
        assert hostile not in html, f"{where}: {hostile!r} is not escaped"
    page = elements_of(html)
    for tag, attrs in page.tags:
        assert tag not in ("img", "iframe", "svg"), f"{where}: injected <{tag}>"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"{where}: injected handler {handlers} on <{tag}>"
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), f"{where}: foreign script"
    assert not page.scripts, f"{where}: inline script {page.scripts}"


async def test_hostile_ids_groups_kwargs_and_errors_are_escaped_everywhere(
    store: DataStore,
) -> None:
    await seed(store)
    pages = [
        "/",
        "/tasks",
        f"/tasks?group={escape(HOSTILE_GROUP)}",
        "/tasks?state=failed",
        "/groups",
        "/workers",
    ]
    async with dashboard_client(store) as client:
        seen = {path: (await client.get(path)).text for path in pages}
        seen["task page"] = (await client.get("/task", params={"id": HOSTILE_ID})).text
        seen["failed task"] = (await client.get("/task", params={"id": "hostile-failed"})).text
        seen["group page"] = (await client.get("/groups", params={"group": HOSTILE_GROUP})).text
        seen["filter by group"] = (await client.get("/tasks", params={"group": HOSTILE_GROUP})).text
        seen["unknown id"] = (await client.get("/task", params={"id": HOSTILE_ID + "x"})).text
        seen["search miss"] = (await client.get("/tasks", params={"id": HOSTILE_ID + "x"})).text
        seen["confirm remove"] = (await act(client, "remove", ids=[HOSTILE_ID])).text
        seen["confirm group"] = (await act(client, "pause", group=HOSTILE_GROUP)).text
        seen["report"] = (await act(client, "pause", ids=[HOSTILE_ID, "<b>nope</b>"])).text
        seen["plain report"] = (await act(client, "retry", ids=["hostile-failed"], htmx=False)).text
    for where, html in seen.items():
        assert_inert(html, where)
    # They are shown, escaped (so the tests above are not vacuous).
    assert escape(HOSTILE_ID) in seen["task page"]
    assert escape(HOSTILE_ID) in seen["/tasks"]
    assert escape(HOSTILE_GROUP) in seen["group page"]
    assert escape('"html": "</pre><script>alert(\'kwargs\')</script>"') in seen["task page"]
    assert escape("<iframe src=javascript:alert(3)>") in seen["failed task"]
    assert escape(HOSTILE_GROUP) in seen["confirm group"]
    assert escape("<b>nope</b>") in seen["report"]


# ---------------------------------------------------------------------- headers


async def test_every_response_carries_the_content_security_policy(store: DataStore) -> None:
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    await seed(store)
    async with dashboard_client(store) as client:
        responses = [await client.get(path) for path in PAGES]
        responses.append(await client.get("/task?id=missing"))
        responses.append(await client.get("/static/htmx.min.js"))
        responses.append(await client.post("/actions"))
    async with dashboard_client(store, auth=TokenAuth(TOKEN)) as client:
        responses.append(await client.get("/"))
        responses.append(await client.get("/login"))
    async with dashboard_client(store, read_only=True) as client:
        await client.get("/")
        responses.append(await client.post("/actions"))
    for response in responses:
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, (
            response.url,
            response.status_code,
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert responses[0].headers["cache-control"] == "no-store"


# ---------------------------------------------------------------------- read-only, kwargs, secrets


async def test_read_only_hides_and_refuses_every_action(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store, read_only=True) as client:
        pages = {path: (await client.get(path)).text for path in PAGES}
        token = csrf_token(pages["/tasks"]) if 'name="csrf_token"' in pages["/tasks"] else ""
        response = await client.post(
            "/actions",
            data={"action": "pause", "scope": "tasks", "ids": "email-42", "csrf_token": token},
            headers={"X-CSRF-Token": token},
        )
        group = await client.post(
            "/actions",
            data={"action": "remove", "scope": "group", "group": "mail", "confirm": "yes"},
            headers={"X-CSRF-Token": token},
        )
    for path, html in pages.items():
        assert "/actions" not in html, path
        assert 'name="action"' not in html, path
        assert "read-only" in html
    assert response.status_code == 403 and "read-only" in response.text
    assert group.status_code == 403
    assert not await is_paused(store, "email-42")
    assert len(await store.fetch_tasks(["email-42", "email-43"])) == 2


async def test_hide_kwargs_keeps_them_off_every_page(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store, hide_kwargs=True) as client:
        pages = [(await client.get(path)).text for path in [*PAGES, "/tasks?group=mail"]]
        task_page = pages[2]
    assert "Hidden: this dashboard runs with --hide-kwargs." in task_page
    for html in pages:
        assert SECRET_KWARG not in html
        assert "someone@example.com" not in html
    async with dashboard_client(store) as client:
        shown = (await client.get("/task?id=email-42")).text
    assert SECRET_KWARG in shown


async def test_the_store_url_and_store_errors_are_shown_masked(store: DataStore) -> None:
    label = "postgresql+asyncpg://app:hunter2-secret@db.internal:5432/app?password=other-secret"
    async with dashboard_client(store, store_label=label) as client:
        html = (await client.get("/")).text
    assert "hunter2-secret" not in html and "other-secret" not in html
    assert "postgresql+asyncpg://app:***@db.internal:5432/app?password=***" in html

    async def broken(now: object) -> list[object]:
        raise DataStoreError("can't reach redis://:pa55word@cache:6379/0 (refused)")

    store.fetch_workers = broken  # type: ignore[assignment, method-assign]
    async with dashboard_client(store) as client:
        html = (await client.get("/workers")).text
    assert "pa55word" not in html
    assert "DataStoreError: can&#39;t reach redis://:***@cache:6379/0 (refused)" in html

    async def unreachable() -> object:
        return await broken(None)

    store.current_time = unreachable  # type: ignore[assignment, method-assign]
    async with dashboard_client(store) as client:
        down = await client.get("/tasks")
    assert down.status_code == 503
    assert "pa55word" not in down.text
    assert (
        "The datastore did not answer: DataStoreError: can&#39;t reach redis://:***@" in down.text
    )
    assert down.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


# ---------------------------------------------------------------------- authentication


async def test_token_auth_sends_browsers_to_log_in(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store, auth=TokenAuth(TOKEN)) as client:
        first = await client.get("/tasks?group=mail")
        assert first.status_code == 303
        assert first.headers["location"] == "/login?next=%2Ftasks%3Fgroup%3Dmail"
        assert (await client.get("/", headers={"HX-Request": "true"})).status_code == 401
        assert (await client.get("/static/dashboard.css")).status_code == 200
        login_page = await client.get("/login?next=%2Ftasks%3Fgroup%3Dmail")
        token = csrf_token(login_page.text)
        wrong = await client.post(
            "/login?next=%2Ftasks", data={"token": "nope-nope-nope-nope", "csrf_token": token}
        )
        assert wrong.status_code == 401 and "That token is not right." in wrong.text
        assert "taskshed_dashboard_session" not in client.cookies
        right = await client.post(
            "/login?next=%2Ftasks%3Fgroup%3Dmail", data={"token": TOKEN, "csrf_token": token}
        )
        assert right.status_code == 303 and right.headers["location"] == "/tasks?group=mail"
        session = right.headers["set-cookie"]
        assert "HttpOnly" in session and "SameSite=strict" in session.replace("Strict", "strict")
        assert TOKEN not in session
        assert (await client.get("/tasks?group=mail")).status_code == 200
        # An action still needs its CSRF token, logged in or not.
        assert (await client.post("/actions", data={"action": "pause"})).status_code == 403
        assert (await act(client, "pause", ids=["email-42"])).status_code == 200
        # Logging out ends the session.
        token = csrf_token((await client.get("/")).text)
        out = await client.post("/logout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert "taskshed_dashboard_session" not in client.cookies
        assert (await client.get("/")).status_code == 303
    async with dashboard_client(store, auth=TokenAuth(TOKEN)) as client:
        bearer = await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200
        client.cookies.set("taskshed_dashboard_session", "forged.0123456789abcdef")
        assert (await client.get("/")).status_code == 303
        # Unauthenticated actions are refused before anything else.
        assert (await client.post("/actions")).status_code == 401


async def test_login_never_redirects_to_another_site(store: DataStore) -> None:
    async with dashboard_client(store, auth=TokenAuth(TOKEN)) as client:
        token = csrf_token((await client.get("/login")).text)
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            response = await client.post(
                "/login", params={"next": target}, data={"token": TOKEN, "csrf_token": token}
            )
            assert response.headers["location"] == "/", target


async def test_basic_auth_asks_the_browser_for_credentials(store: DataStore) -> None:
    good = base64.b64encode(b"ops:correct horse").decode()
    bad = base64.b64encode(b"ops:wrong horse").decode()
    async with dashboard_client(store, auth=BasicAuth("ops", "correct horse")) as client:
        anonymous = await client.get("/")
        wrong = await client.get("/", headers={"Authorization": f"Basic {bad}"})
        right = await client.get("/", headers={"Authorization": f"Basic {good}"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith('Basic realm="taskshed dashboard"')
    assert wrong.status_code == 401
    assert right.status_code == 200


@pytest.mark.parametrize("token", ["short", "", "x" * 15])
def test_a_token_must_be_long_enough(token: str) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        TokenAuth(token)
