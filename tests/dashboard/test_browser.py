"""The dashboard in a real headless Chromium, on every store: pages load, actions change the store.

Screenshots of the main pages land in ``$TASKSHED_DASHBOARD_SCREENSHOTS`` when it
is set (that is how docs/assets/dashboard/ is made), else in the test's tmp dir.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from taskshed_dashboard import create_app

from taskshed.models import task_state
from tests.dashboard.browser import BROWSER_TIMEZONE, Probe, Served, chromium, probe
from tests.dashboard.seed import HOSTILE_ID, WORKER_ID, seed
from tests.dashboard.showcase import showcase
from tests.dashboard.stores import ALL_KINDS, StoreKind, open_kind

pytestmark = pytest.mark.browser


@pytest.fixture(params=ALL_KINDS)
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKind]:
    opened = open_kind(request.param, tmp_path)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


@pytest.fixture
def driver(browser: Any) -> Iterator[Any]:
    browser.get("about:blank")
    browser.delete_all_cookies()
    browser.get_log("browser")  # start each test with an empty console
    yield browser


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TASKSHED_DASHBOARD_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait(driver: Any, condition: Any, what: str, timeout: float = 15) -> Any:
    # Parts of the page replace themselves when the store changes: an element found a
    # moment ago may be gone (stale) by the time it is read; look again.
    return WebDriverWait(
        driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    ).until(condition, message=f"waiting for {what}")


def report_says(driver: Any, text: str) -> None:
    def summary(d: Any) -> bool:
        found = d.find_elements(By.CSS_SELECTOR, "#report [data-summary]")
        return bool(found) and text in found[0].text

    wait(driver, summary, f"the report {text!r}")


def states(check: Probe, *ids: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        now = await check.store.current_time()
        return {t.task_id: task_state(t, now) for t in await check.store.fetch_tasks(ids)}

    return check(read)


def click(driver: Any, selector: str) -> None:
    def clicked(d: Any) -> bool:
        d.find_element(By.CSS_SELECTOR, selector).click()
        return True

    wait(driver, clicked, f"{selector} to click")


def no_console_errors(driver: Any) -> None:
    """CSP violations, script errors and failed loads all show up as SEVERE entries."""
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe


def test_every_page_and_action_in_a_real_browser(
    kind: StoreKind, driver: Any, tmp_path: Path
) -> None:
    with probe(kind.make) as check:
        check(seed, check.store)
        app = create_app(kind.make(), store_label=kind.url or kind.name)
        with Served(app) as served:
            base = served.url
            # Overview: counts, local times in the viewer's zone, workers.
            driver.get(base + "/")
            wait(
                driver,
                lambda d: d.find_element(By.CSS_SELECTOR, "[data-count=all] .value").text == "10",
                "counts",
            )
            assert driver.find_element(By.CSS_SELECTOR, "[data-count=failed] .value").text == "2"
            assert driver.find_element(By.CSS_SELECTOR, "[data-tz-name]").text == BROWSER_TIMEZONE
            first_time = driver.find_element(By.CSS_SELECTOR, "time[data-local]")
            assert not first_time.text.endswith("UTC"), first_time.text
            assert (
                WORKER_ID
                in driver.find_element(By.ID, "live-workers").find_element(By.XPATH, "..").text
            )

            # Task list: select two, pause; the report says so and the table refreshes itself.
            driver.get(base + "/tasks")
            click(driver, 'input[name=ids][value="email-42"]')
            click(driver, 'input[name=ids][value="email-43"]')
            click(driver, "#selection button[value=pause]")
            report_says(driver, "Paused 2 tasks.")
            assert states(check, "email-42", "email-43") == {
                "email-42": "paused",
                "email-43": "paused",
            }
            wait(
                driver,
                lambda d: (
                    d.find_element(By.CSS_SELECTOR, 'tr[data-task-id="email-42"] .state').text
                    == "paused"
                ),
                "the table to refresh",
            )
            # Select everything on the page and resume: the three paused tasks come back.
            click(driver, "input[data-select-all]")
            click(driver, "#selection button[value=resume]")
            report_says(driver, "Resumed 3 tasks.")
            assert set(states(check, "email-42", "email-43", "cleanup-paused").values()) == {
                "scheduled"
            }

            # Task page: run now.
            driver.get(base + "/task?id=heartbeat")
            click(driver, "form.actions button[value=run_now]")
            report_says(driver, "Made due now: 1 task.")
            assert states(check, "heartbeat") == {"heartbeat": "due"}

            # A failed task: retry.
            driver.get(base + "/task?id=invoice-failed")
            click(driver, "form.actions button[value=retry]")
            report_says(driver, "Re-queued 1 task.")
            assert states(check, "invoice-failed") == {"invoice-failed": "due"}

            # Remove asks first; cancel keeps the task, confirming removes it.
            driver.get(base + "/task?id=email-43")
            click(driver, "form.actions button[value=remove]")
            wait(
                driver,
                lambda d: d.find_elements(By.CSS_SELECTOR, ".report.confirm"),
                "the confirmation",
            )
            assert "This cannot be undone." in driver.find_element(By.ID, "report").text
            click(driver, "#report button[data-dismiss]")
            wait(
                driver, lambda d: not d.find_elements(By.CSS_SELECTOR, ".report.confirm"), "cancel"
            )
            assert states(check, "email-43") == {"email-43": "scheduled"}
            click(driver, "form.actions button[value=remove]")
            wait(
                driver,
                lambda d: d.find_elements(By.CSS_SELECTOR, "[data-confirm]"),
                "the confirmation",
            )
            click(driver, "[data-confirm]")
            report_says(driver, "Removed 1 task.")
            assert states(check, "email-43") == {}

            # A whole group: pause after confirming.
            driver.get(base + "/groups?group=mail")
            click(driver, "form.actions button[value=pause]")
            wait(
                driver,
                lambda d: d.find_elements(By.CSS_SELECTOR, "[data-confirm]"),
                "the confirmation",
            )
            assert "Pause all 2 tasks of group mail?" in driver.find_element(By.ID, "report").text
            click(driver, "[data-confirm]")
            report_says(driver, "Paused 2 tasks of group mail.")
            assert states(check, "email-42", "overdue-1") == {
                "email-42": "paused",
                "overdue-1": "paused",
            }
            wait(
                driver,
                lambda d: d.find_element(By.CSS_SELECTOR, "[data-count=paused] .value").text == "2",
                "the group's counts to refresh",
            )

            # Workers, and hostile ids shown as text, never run.
            driver.get(base + "/workers")
            assert driver.find_element(By.CSS_SELECTOR, f'tr[data-worker-id="{WORKER_ID}"]')
            driver.get(
                base
                + "/tasks?id="
                + HOSTILE_ID.replace("'", "%27").replace("<", "%3C").replace(">", "%3E")
            )
            wait(
                driver,
                lambda d: d.find_elements(By.CSS_SELECTOR, "[data-task-id]"),
                "the task page",
            )
            assert driver.find_element(By.CSS_SELECTOR, "h1 [data-task-id]").text == HOSTILE_ID
            assert "alert('kwargs')" in driver.find_element(By.CSS_SELECTOR, "[data-kwargs]").text
            with pytest.raises(NoAlertPresentException):
                driver.switch_to.alert.text  # noqa: B018
            no_console_errors(driver)


def test_a_forged_post_from_another_page_changes_nothing(driver: Any, tmp_path: Path) -> None:
    """An attacker's page on the same host (another port: same site, so SameSite doesn't help)."""
    kind = open_kind("memory", tmp_path)
    with probe(kind.make) as check:
        check(seed, check.store)
        with Served(create_app(kind.make())) as served:

            def evil(request: Any) -> HTMLResponse:
                return HTMLResponse(
                    f"""<!doctype html><title>win a prize</title>
                    <form id="f" method="post" action="{served.url}/actions">
                      <input name="action" value="remove"><input name="scope" value="group">
                      <input name="group" value="mail"><input name="confirm" value="yes">
                      <input name="csrf_token" value="guessed">
                    </form>
                    <script>document.getElementById("f").submit()</script>"""
                )

            with Served(Starlette(routes=[Route("/", evil)])) as attacker:
                driver.get(served.url + "/tasks")  # the victim has a dashboard session
                driver.get(attacker.url + "/")
                wait(driver, lambda d: "CSRF check failed" in d.page_source, "the refusal")
            assert len(states(check, "email-42", "email-43", "overdue-1")) == 3


def test_screenshots_of_the_main_pages(driver: Any, tmp_path: Path) -> None:
    """A realistic schedule (no hostile names), every main page loaded and photographed."""
    kind = open_kind("memory", tmp_path)
    folder = screenshots(tmp_path)
    with probe(kind.make) as check:
        now = check(check.store.current_time)
        check(showcase, check.store, now)
        app = create_app(kind.make(), store_label="postgresql+asyncpg://app:***@db.internal/app")
        with Served(app) as served:
            shots = {
                "overview": "/",
                "tasks": "/tasks?size=25",
                "task": "/task?id=report-weekly",
                "failed-task": "/task?id=invoice-2289",
                "groups": "/groups?group=billing",
                "workers": "/workers",
            }
            for name, path in shots.items():
                driver.get(served.url + path)
                wait(driver, lambda d: d.find_elements(By.TAG_NAME, "footer"), name)
                if name == "tasks":
                    for task_id in ("email-welcome-1002", "email-welcome-1003"):
                        click(driver, f'input[name=ids][value="{task_id}"]')
                    click(driver, "#selection button[value=pause]")
                    report_says(driver, "Paused 2 tasks.")
                if name == "groups":
                    click(driver, "form.actions button[value=retry]")
                    wait(
                        driver,
                        lambda d: d.find_elements(By.CSS_SELECTOR, "[data-confirm]"),
                        "confirm",
                    )
                driver.execute_script("window.scrollTo(0, 0)")
                driver.save_screenshot(str(folder / f"{name}.png"))
            no_console_errors(driver)
    assert sorted(p.stem for p in folder.glob("*.png")) >= sorted(shots)
    kind.close()
