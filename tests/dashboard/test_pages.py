"""The pages, over HTTP, against real stores: what each shows, filters and paging."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from taskshed_dashboard import reading

from taskshed.datastores.base import DataStore
from taskshed.listing import TaskPage, TaskQuery
from taskshed.models import Task
from tests.dashboard.seed import HOSTILE_ID, WORKER_ID, expected_counts, seed
from tests.dashboard.web import dashboard_client


def count_on(html: str, key: str) -> str:
    found = re.search(rf'data-count="{key}">\s*<span class="value">([^<]+)</span>', html)
    assert found, f"no {key} count on the page"
    return found.group(1)


def row_ids(html: str) -> list[str]:
    from html import unescape

    return [unescape(v) for v in re.findall(r'<tr data-task-id="([^"]*)"', html)]


async def test_overview_counts_tasks_by_state_and_lists_runs_workers_failures(
    store: DataStore,
) -> None:
    seeded = await seed(store)
    async with dashboard_client(store) as client:
        response = await client.get("/")
    assert response.status_code == 200
    html = response.text
    for key, value in expected_counts(seeded).items():
        assert count_on(html, key) == str(value), key
    assert count_on(html, "due") == "1"
    # Next runs: scheduled tasks, earliest first.
    next_runs = html.split('id="next-runs"')[1].split('id="live-workers"')[0]
    assert next_runs.index("heartbeat") < next_runs.index("email-42")
    assert "cleanup-paused" not in next_runs
    assert WORKER_ID in html and "host-a" in html
    failures = html.split('id="recent-failures"')[1]
    assert "invoice-failed" in failures and "payment gateway timed out" in failures


async def test_counts_stop_at_the_cap_and_say_so(
    store: DataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(store)
    monkeypatch.setattr(reading, "COUNT_CAP", 4)
    async with dashboard_client(store) as client:
        html = (await client.get("/")).text
        listing = (await client.get("/tasks")).text
    assert count_on(html, "scheduled") == "4+"
    assert count_on(html, "failed") == "2"
    assert count_on(html, "all") == "9+"
    assert "<span data-total>4+</span> tasks match" in listing


async def test_task_list_filters_by_group_callback_state_and_due_window(
    store: DataStore,
) -> None:
    seeded = await seed(store)
    now = seeded.now
    async with dashboard_client(store) as client:
        by_group = row_ids((await client.get("/tasks", params={"group": "mail"})).text)
        by_callback = row_ids((await client.get("/tasks", params={"callback": "mail.send"})).text)
        failed = row_ids((await client.get("/tasks", params={"state": "failed"})).text)
        window = row_ids(
            (
                await client.get(
                    "/tasks",
                    params={
                        "due_after": (now + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M"),
                        "due_before": (now + timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M"),
                    },
                )
            ).text
        )
        claimed = row_ids((await client.get("/tasks", params={"worker": WORKER_ID})).text)
        everything = row_ids((await client.get("/tasks")).text)
    assert by_group == ["overdue-1", "email-42", "email-43"]
    assert by_callback == ["overdue-1", "email-42", "email-43"]
    assert failed == ["hostile-failed", "invoice-failed"]
    assert window == ["email-42", "email-43"]
    assert claimed == ["claimed-1"]
    assert sorted(everything) == sorted(seeded.states)


async def test_bad_filters_are_reported_not_fatal(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        response = await client.get(
            "/tasks",
            params={"state": "exploded", "due_after": "yesterday", "after": "not-a-cursor"},
        )
    assert response.status_code == 200
    assert "Unknown state" in response.text
    assert "is not a date and time" in response.text
    assert "page link is not valid" in response.text
    assert len(row_ids(response.text)) == 10


async def test_paging_walks_every_task_once_with_keyset_cursors(store: DataStore) -> None:
    now = await store.current_time()
    # Same run_at for many tasks: the cursor must break ties by id.
    tasks = [
        Task(task_id=f"t{i:03}", callback="bulk", run_at=now + timedelta(minutes=i // 7))
        for i in range(130)
    ]
    await store.add_tasks(tasks)
    seen: list[str] = []
    pages = 0
    async with dashboard_client(store) as client:
        url: str | None = "/tasks?callback=bulk&size=25"
        while url:
            assert pages < 10, "the pages never end"
            html = (await client.get(url)).text
            pages += 1
            seen.extend(row_ids(html))
            assert "130</span> tasks match" in html
            found = re.search(r'<a href="([^"]+)" rel="next">', html)
            url = found.group(1).replace("&amp;", "&") if found else None
            if url:
                query = parse_qs(urlsplit(url).query)
                assert query["callback"] == ["bulk"] and query["size"] == ["25"]
    assert pages == 6
    assert seen == sorted(seen, key=lambda i: (int(i[1:]) // 7, i))
    assert sorted(seen) == sorted(t.task_id for t in tasks)


async def test_searching_an_exact_id_opens_the_task_or_says_it_is_unknown(
    store: DataStore,
) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        found = await client.get("/tasks", params={"id": HOSTILE_ID})
        missing = await client.get("/tasks", params={"id": "email-4"})
    assert found.status_code == 303
    assert parse_qs(urlsplit(found.headers["location"]).query)["id"] == [HOSTILE_ID]
    assert missing.status_code == 200
    assert "No task has the id &#39;email-4&#39;." in missing.text


async def test_task_page_shows_every_field_kwargs_attempts_and_error(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        failed = (await client.get("/task", params={"id": "invoice-failed"})).text
        email = (await client.get("/task", params={"id": "email-42"})).text
    for name in (
        "task_id", "callback", "group_id", "run_type", "run_at", "interval", "cron",
        "timezone", "end_at", "jitter", "coalesce", "paused", "max_attempts",
        "retry_backoff", "timeout", "attempts", "last_run_at", "failed_at", "last_error",
    ):  # fmt: skip
        assert f"<dt>{name}</dt>" in failed, name
    assert "<dd data-attempts>3 of 3</dd>" in failed
    assert "ConnectionError: payment gateway timed out" in failed
    assert 'class="state state-failed"' in failed
    assert "Retry</button>" in failed and "Pause</button>" not in failed
    # kwargs pretty-printed: one key per line, indented, sorted.
    assert (
        '<pre class="kwargs" data-kwargs>{\n  &#34;patient&#34;: &#34;patient-record-4711&#34;,\n'
        "  &#34;to&#34;: &#34;someone@example.com&#34;\n}</pre>"
    ) in email


async def test_task_page_shows_next_fire_times_in_utc_and_the_tasks_zone(
    store: DataStore,
) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        cron = (await client.get("/task", params={"id": "report-daily"})).text
        interval = (await client.get("/task", params={"id": "heartbeat"})).text
    cron_rows = re.findall(
        r'<time datetime="([^"]+)" data-local>', cron.split('id="fire-times"')[1]
    )
    assert len(cron_rows) == 5
    # 09:30 in Paris is 07:30 or 08:30 UTC, on weekdays.
    assert all(t[11:16] in ("07:30", "08:30") for t in cron_rows), cron_rows
    assert "09:30:00 CET" in cron or "09:30:00 CEST" in cron
    assert "<th>Europe/Paris</th>" in cron
    times = re.findall(
        r'<time datetime="([^"]+)" data-local>', interval.split('id="fire-times"')[1]
    )
    assert len(times) == 5
    minutes = {(int(t[14:16]) - int(times[0][14:16])) % 60 for t in times}
    assert minutes == {0, 15, 30, 45}


async def test_task_page_names_who_holds_the_claim(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        html = (await client.get("/task", params={"id": "claimed-1"})).text
    assert f'<dd data-claimed-by><a href="/tasks?worker={WORKER_ID}">{WORKER_ID}</a></dd>' in html
    assert "host-a, pid 4242" in html
    assert 'class="state state-claimed"' in html


async def test_unknown_task_is_a_404_page(store: DataStore) -> None:
    async with dashboard_client(store) as client:
        response = await client.get("/task", params={"id": "<gone>"})
    assert response.status_code == 404
    assert "No task has the id &#39;&lt;gone&gt;&#39;" in response.text


async def test_group_page_counts_and_lists_the_group(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        html = (await client.get("/groups", params={"group": "mail"})).text
        empty = (await client.get("/groups")).text
    assert count_on(html, "all") == "3"
    assert count_on(html, "due") == "1"
    assert count_on(html, "scheduled") == "2"
    assert 'name="scope" value="group"' in html
    assert "Open a group by its name" in empty


async def test_workers_page_lists_live_workers(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        html = (await client.get("/workers")).text
    assert f'<tr data-worker-id="{WORKER_ID}">' in html
    assert "4242" in html and "video.encode" in html


async def test_a_store_without_listing_still_shows_the_rest(store: DataStore) -> None:
    """Third-party stores may lag behind the contract: the page says what is missing."""
    await seed(store)

    async def no_listing(query: TaskQuery) -> TaskPage:
        raise NotImplementedError

    store.list_tasks = no_listing  # type: ignore[method-assign]
    async with dashboard_client(store) as client:
        overview = await client.get("/")
        listing = await client.get("/tasks")
    assert overview.status_code == 200 and listing.status_code == 200
    assert "Not available: this datastore does not support it" in overview.text
    assert count_on(overview.text, "all") == "10"
    assert WORKER_ID in overview.text
    assert "Not available: this datastore does not support it" in listing.text


async def test_static_files_are_served_from_the_package() -> None:
    from taskshed.datastores.memory import InMemoryDataStore

    async with dashboard_client(InMemoryDataStore()) as client:
        htmx = await client.get("/static/htmx.min.js")
        css = await client.get("/static/dashboard.css")
        page = (await client.get("/")).text
    assert htmx.status_code == 200 and "htmx" in htmx.text[:200]
    assert css.status_code == 200
    assert "//" not in "".join(re.findall(r'src="([^"]+)"', page)), "no external scripts"


async def test_a_store_that_cannot_start_gives_a_503_page_without_its_password() -> None:
    from taskshed.datastores.memory import InMemoryDataStore
    from taskshed.errors import DataStoreError

    class Down(InMemoryDataStore):
        async def start(self) -> None:
            raise DataStoreError("no route to postgresql://app:s3cr3t@db.internal/app")

    async with dashboard_client(Down()) as client:
        pages = [await client.get(path) for path in ("/", "/tasks", "/task?id=x", "/workers")]
    for response in pages:
        assert response.status_code == 503
        assert "s3cr3t" not in response.text
        assert "could not be started: DataStoreError: no route to postgresql://app:***@" in (
            response.text
        )
