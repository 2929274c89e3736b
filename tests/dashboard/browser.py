"""A real headless Chromium (Debian's, with its chromedriver) and the dashboard served by uvicorn.

Chromium missing: the browser tests skip locally and fail in CI
(``TASKSHED_REQUIRE_SERVICES=1``); ``./dev.sh setup`` installs it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal

from taskshed.datastores.base import DataStore
from tests.support.ports import free_port
from tests.support.services import missing

T = TypeVar("T")

#: Without the networking flags Chromium tries to reach Google's services, which are refused here.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1440,1000",
)
#: The viewer's zone in these tests, to see times turned into it.
BROWSER_TIMEZONE = "America/New_York"


def chromium_paths() -> tuple[str, str]:
    """Chromium and its driver, or skip (locally) / fail (CI) when they are missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    missing("Chromium or chromedriver is missing (apt-get install chromium chromium-driver)")


@contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile.mkdir(parents=True, exist_ok=True)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The explicit driver path keeps Selenium Manager from looking for a download.
    service = Service(executable_path=driver_path, env={"TZ": BROWSER_TIMEZONE})
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Served:
    """An ASGI app served by uvicorn on a thread of its own (its own event loop)."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="dashboard", daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


class Probe:
    """A second store object on the same data, used from the test's thread through a portal."""

    def __init__(self, store: DataStore, portal: BlockingPortal) -> None:
        self.store = store
        self.portal = portal

    def __call__(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return self.portal.call(fn, *args)


@contextmanager
def probe(make: Callable[[], DataStore]) -> Iterator[Probe]:
    with start_blocking_portal() as portal:
        store = make()
        portal.call(store.start)
        try:
            yield Probe(store, portal)
        finally:
            portal.call(store.shutdown)
