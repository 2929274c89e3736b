"""The conformance suite fails stores that break the contract: it tests something.

The suite runs in a separate pytest process (no pytest-asyncio, no project
conftest: as in a third-party plugin's own test run) against each store of
``broken_stores.py``; the tests that guard the broken promise must fail there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.services import require_module

REPO = Path(__file__).resolve().parents[2]

#: For each broken store, tests that must fail against it (others may fail too).
MUST_FAIL: dict[str, set[str]] = {
    "LeaseIgnoringStore": {
        "test_a_held_lease_excludes_other_workers",
        "test_concurrent_acquires_never_share_a_task",
        "test_acquire_takes_due_tasks_earliest_first_up_to_limit",
        "test_a_one_off_task_runs_once_and_is_removed_after_its_callback",
    },
    "TokenIgnoringStore": {
        "test_a_stale_completion_after_takeover_changes_nothing",
        "test_complete_reports_only_the_tokens_that_held",
        "test_a_completion_after_update_time_is_stale",
        "test_replacing_drops_the_claim_on_the_old_task",
        "test_release_frees_held_claims_at_once",
    },
    "GreedyRemoveStore": {"test_remove_group_tasks_removes_only_the_group"},
    "EagerDeleteStore": {
        "test_a_one_off_task_runs_once_and_is_removed_after_its_callback",
        "test_completing_a_one_off_task_removes_it",
    },
    "RestampingPauseStore": {
        "test_pausing_twice_keeps_the_first_paused_at",
        "test_a_task_added_paused_keeps_its_paused_at",
    },
    "WallClockStore": {
        "test_acquire_takes_due_tasks_earliest_first_up_to_limit",
        "test_a_held_lease_excludes_other_workers",
    },
    "MillisecondStore": {
        "test_sub_second_precision_is_kept_at_the_declared_resolution",
        "test_aware_times_in_any_zone_keep_their_instant",
    },
    "MillisecondIntervalStore": {
        "test_intervals_keep_sub_millisecond_parts_at_the_declared_resolution",
    },
    "IdOrderStore": {"test_fetch_tasks_returns_them_in_the_order_asked_for"},
    "InsertionOrderGroupStore": {"test_fetch_group_tasks_is_earliest_first_then_by_id"},
    "LenientReaderStore": {"test_bad_ids_in_reads_and_removals_raise_typed_errors"},
    "HalfWriteOnShutdownStore": {"test_shutdown_while_calls_are_in_flight"},
    # The lease-ignoring example file store, shared by real worker processes.
    "LeaseIgnoringFileStore": {"test_worker_processes_start_every_task_exactly_once"},
}

#: What the failure messages must say for each broken store: the promise it broke.
MUST_SAY: dict[str, str] = {
    "LeaseIgnoringStore": "must not be claimed by another worker while its lease holds",
    "TokenIgnoringStore": "must be stale",
    "GreedyRemoveStore": "remove_group_tasks('g') must remove the group's tasks",
    "EagerDeleteStore": "must stay stored while its callback runs",
    "RestampingPauseStore": "paused_at",
    "WallClockStore": "must claim the earliest due tasks first",
    "MillisecondStore": "resolution",
    "MillisecondIntervalStore": "not round them to ms or s",
    "IdOrderStore": "in the order of the ids asked for",
    "InsertionOrderGroupStore": "earliest run_at first",
    "LenientReaderStore": "fetch_tasks with the bad id",
    "HalfWriteOnShutdownStore": "a write must be all or nothing",
    "LeaseIgnoringFileStore": "every task must start exactly once",
}

SUITE_MODULE = """
import pytest

from taskshed import register_plugin
from taskshed.config import get_serializer
from taskshed.testing import DataStoreSuite
from tests.conformance import broken_stores

register_plugin(broken_stores)


class InProcess(DataStoreSuite):
    shared_between_instances = False
    supports_multiple_processes = False
    persistent = False
    wait_timeout = 1.0  # what is waited for here mostly never happens
    broken = None

    @pytest.fixture
    def make_datastore(self):
        def make(serializer=None):
            return self.broken(serializer=get_serializer(serializer or "json"))
        return make
{classes}

class TestLeaseIgnoringFileStore(DataStoreSuite):
    process_plugins = ("tests.conformance.broken_stores",)
    # Starting three interpreters takes a few seconds on a loaded two-core machine.
    process_timeout = 30.0
    wait_timeout = 2.0

    @pytest.fixture
    def datastore_url(self, tmp_path):
        return f"broken-example://{{tmp_path / 'tasks.json'}}"
"""

CLASS_TEMPLATE = """

class Test{name}(InProcess):
    broken = broken_stores.{name}
"""


# Session-scoped: under pytest-xdist a worker interleaves other modules' tests, which
# would tear a module-scoped fixture down and run the whole suite again per store.
@pytest.fixture(scope="session")
def failures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Run the suite against every broken store once; the failed test names per store."""
    require_module("taskshed_example_store", install="pip install -e tests/example_plugin")
    folder = tmp_path_factory.mktemp("broken")
    in_process = [name for name in MUST_FAIL if name != "LeaseIgnoringFileStore"]
    classes = "".join(CLASS_TEMPLATE.format(name=name) for name in in_process)
    (folder / "test_broken_suite.py").write_text(SUITE_MODULE.format(classes=classes))
    report = folder / "report.xml"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "test_broken_suite.py",
            "-p", "no:asyncio", "-p", "no:cacheprovider", "-q",
            "-k", "not killed_workers and not (LeaseIgnoringFileStore and event)",
            f"--junitxml={report}",
        ],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    failed: dict[str, dict[str, str]] = {name: {} for name in MUST_FAIL}
    passed = 0
    for case in ET.parse(report).getroot().iter("testcase"):
        store = case.get("classname", "").rsplit(".", 1)[-1].removeprefix("Test")
        test = case.get("name", "").split("[")[0]
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            message = (problem.get("message") or "") + "\n" + (problem.text or "")
            failed.setdefault(store, {})[test] = failed.get(store, {}).get(test, "") + message
        elif case.find("skipped") is None:
            passed += 1
    assert passed > 100, f"the suite hardly ran:\n{result.stdout[-3000:]}"
    return failed


@pytest.mark.parametrize("store", sorted(MUST_FAIL))
def test_the_suite_fails_a_broken_store(failures: dict[str, dict[str, str]], store: str) -> None:
    missed = MUST_FAIL[store] - set(failures[store])
    assert not missed, f"{store} broke the contract but these tests passed: {sorted(missed)}"


@pytest.mark.parametrize("store", sorted(MUST_FAIL))
def test_the_failure_names_the_broken_promise(
    failures: dict[str, dict[str, str]], store: str
) -> None:
    """A plugin author sees which promise broke, not a bare AssertionError."""
    messages = [failures[store].get(test, "") for test in MUST_FAIL[store]]
    assert any(MUST_SAY[store] in message for message in messages), (
        f"no failure of {store} says {MUST_SAY[store]!r}:\n" + "\n---\n".join(messages)[-4000:]
    )
    for message in messages:
        assert message.strip() != "AssertionError", f"a bare AssertionError for {store}"


def test_the_suites_asserts_are_rewritten_to_show_the_values(
    failures: dict[str, dict[str, str]],
) -> None:
    """pytest rewrites the installed suite's asserts (taskshed's pytest11 plugin)."""
    message = failures["IdOrderStore"]["test_fetch_tasks_returns_them_in_the_order_asked_for"]
    assert "assert ['a', 'm', 'q', 'z'] == ['q', 'z', 'a', 'm']" in message, message[-3000:]
