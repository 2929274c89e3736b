"""Actions over HTTP: each changes the store, reports what it changed, confirms when it destroys."""

from __future__ import annotations

from taskshed.datastores.base import DataStore
from taskshed.models import task_state
from tests.dashboard.seed import HOSTILE_GROUP, HOSTILE_ID, seed
from tests.dashboard.web import act, dashboard_client, text_of


async def states_of(store: DataStore, *ids: str) -> dict[str, str]:
    now = await store.current_time()
    return {t.task_id: task_state(t, now) for t in await store.fetch_tasks(ids)}


async def test_pause_and_resume_a_selection_report_what_changed(store: DataStore) -> None:
    await seed(store)
    selection = ["email-42", "cleanup-paused", "invoice-failed", "no-such-task"]
    async with dashboard_client(store) as client:
        paused = await act(client, "pause", ids=selection)
        after_pause = await states_of(store, *selection)
        resumed = await act(client, "resume", ids=selection)
        after_resume = await states_of(store, *selection)
    assert paused.status_code == 200
    assert paused.headers["HX-Trigger"] == "taskshed-changed"
    text = text_of(paused.text)
    assert "Paused 1 task." in text
    assert "Left alone, already paused: cleanup-paused" in text
    assert "Left alone, failed (left as they are; retry them): invoice-failed" in text
    assert "Left alone, not found (removed meanwhile?): no-such-task" in text
    assert after_pause == {
        "email-42": "paused",
        "cleanup-paused": "paused",
        "invoice-failed": "failed",
    }
    assert "Resumed 2 tasks." in resumed.text
    assert after_resume == {
        "email-42": "scheduled",
        "cleanup-paused": "scheduled",
        "invoice-failed": "failed",
    }


async def test_run_now_makes_tasks_due_but_leaves_claimed_and_failed_ones(
    store: DataStore,
) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        response = await act(
            client, "run_now", ids=["email-42", "heartbeat", "claimed-1", "invoice-failed"]
        )
    text = text_of(response.text)
    assert "Made due now: 2 tasks." in text
    assert "running or claimed by a worker right now: claimed-1" in text
    assert "failed: use retry: invoice-failed" in text
    assert await states_of(store, "email-42", "heartbeat", "claimed-1", "invoice-failed") == {
        "email-42": "due",
        "heartbeat": "due",
        "claimed-1": "claimed",
        "invoice-failed": "failed",
    }


async def test_retry_requeues_only_failed_tasks(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        response = await act(client, "retry", ids=["invoice-failed", "email-42"])
    assert "Re-queued 1 task." in response.text
    assert "Left alone, not failed: email-42" in text_of(response.text)
    [task] = await store.fetch_tasks(["invoice-failed"])
    assert task.failed_at is None and task.attempts == 0
    assert task.last_error == "ConnectionError: payment gateway timed out"
    assert task_state(task, await store.current_time()) == "due"


async def test_remove_asks_first_then_removes(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        asked = await act(client, "remove", ids=["email-42", HOSTILE_ID])
        still_there = await states_of(store, "email-42", HOSTILE_ID)
        done = await act(client, "remove", ids=["email-42", HOSTILE_ID], confirm=True)
    assert "Remove 2 tasks?" in asked.text and "This cannot be undone." in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    assert "HX-Trigger" not in asked.headers
    assert len(still_there) == 2
    assert "Removed 2 tasks." in done.text
    assert done.headers["HX-Trigger"] == "taskshed-removed"
    assert await store.fetch_tasks(["email-42", HOSTILE_ID]) == []
    assert len(await store.fetch_tasks(["email-43"])) == 1


async def test_group_actions_ask_first_and_act_on_the_whole_group(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        asked = await act(client, "pause", group="mail", page="/groups?group=mail")
        unchanged = await states_of(store, "email-42", "email-43", "overdue-1")
        paused = await act(client, "pause", group="mail", confirm=True)
        after_pause = await states_of(store, "email-42", "email-43", "overdue-1")
        resumed = await act(client, "resume", group="mail", confirm=True)
        ran = await act(client, "run_now", group="mail", confirm=True)
        after_run = await states_of(store, "email-42", "email-43", "overdue-1")
        removed = await act(client, "remove", group="mail", confirm=True)
    assert "Pause all 3 tasks of group mail?" in text_of(asked.text)
    assert set(unchanged.values()) == {"scheduled", "due"}
    assert "Paused 3 tasks of group mail." in paused.text
    assert set(after_pause.values()) == {"paused"}
    assert "Resumed 3 tasks of group mail." in resumed.text
    assert "Made due now: 3 tasks of group mail." in ran.text
    assert set(after_run.values()) == {"due"}
    assert "Removed 3 tasks of group mail." in removed.text
    assert await store.fetch_tasks(["email-42", "email-43", "overdue-1"]) == []
    assert len(await store.fetch_tasks(["heartbeat"])) == 1


async def test_group_retry_requeues_the_groups_failed_tasks(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        response = await act(client, "retry", group=HOSTILE_GROUP, confirm=True)
    assert "Re-queued 1 task of group" in text_of(response.text)
    [task] = await store.fetch_tasks(["hostile-failed"])
    assert task.failed_at is None
    [other] = await store.fetch_tasks(["invoice-failed"])
    assert other.failed_at is not None


async def test_bad_requests_change_nothing_and_say_why(store: DataStore) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        nothing = await act(client, "pause", ids=[])
        unknown = await act(client, "explode", ids=["email-42"])
        bad_id = await act(client, "pause", ids=["x" * 300])
    assert "Select at least one task first." in nothing.text
    assert "Unknown action &#39;explode&#39;." in unknown.text
    assert "255" in bad_id.text
    assert (await states_of(store, "email-42")) == {"email-42": "scheduled"}


async def test_without_htmx_an_action_answers_with_a_page_and_a_way_back(
    store: DataStore,
) -> None:
    await seed(store)
    async with dashboard_client(store) as client:
        response = await act(
            client, "pause", ids=["email-42"], htmx=False, page="/tasks?group=mail"
        )
    assert response.status_code == 200
    assert "<!doctype html>" in response.text
    assert "Paused 1 task." in response.text
    assert '<a href="/tasks?group=mail">Back</a>' in response.text
