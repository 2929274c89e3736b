"""The serializer suite: our serializers pass it, broken ones fail it, and the store suite
runs with any serializer.

The broken runs happen in a separate pytest process (no project conftest, no
pytest-asyncio: as in a plugin's own test run), read back from JUnit XML.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from taskshed.testing import SerializerSuite
from taskshed.testing.suite.kwargs import RICH

REPO = Path(__file__).resolve().parents[2]


class TestJSONSerializer(SerializerSuite):
    unencodable_values = {"object": object(), "bytes": b"x", "set": {1}, "nan": float("nan")}

    @pytest.fixture
    def serializer_name(self) -> str:
        return "json"


class TestRichJSONSerializer(SerializerSuite):
    extra_values: dict[str, Any] = RICH

    @pytest.fixture
    def serializer_name(self) -> str:
        return "json-rich"


# ---------------------------------------------------------------------- broken serializers

#: For each broken serializer, the tests that must fail and what their message must say.
MUST_FAIL: dict[str, dict[str, str]] = {
    "BytesSerializer": {
        "test_plain_json_values_round_trip_with_their_types": "dumps() must return str",
    },
    "NulSerializer": {"test_its_text_fits_every_store": "NUL character"},
    "LenientSerializer": {"test_garbage_raises_value_error_on_loads": "accepted garbage"},
    "KeyErrorSerializer": {"test_garbage_raises_value_error_on_loads": "raised KeyError"},
    "CachingSerializer": {"test_loads_returns_fresh_objects": "shared objects"},
    "FloatingSerializer": {
        "test_plain_json_values_round_trip_with_their_types": "came back as float",
    },
}

SUITE_MODULE = """
import pytest

from taskshed.testing import SerializerSuite
from tests.conformance import broken_serializers
{classes}
"""

CLASS_TEMPLATE = """

class Test{name}(SerializerSuite):
    @pytest.fixture
    def make_serializer(self):
        return broken_serializers.{name}
"""


def _pytest(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    report = cwd / "report.xml"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:asyncio", "-p", "no:cacheprovider",
         "-q", f"--junitxml={report}"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    return result, report


def _outcomes(report: Path) -> dict[tuple[str, str], str | None]:
    """(class, test) -> the failure message, or None for a pass or skip."""
    outcomes: dict[tuple[str, str], str | None] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        owner = case.get("classname", "").rsplit(".", 1)[-1].removeprefix("Test")
        name = case.get("name", "").split("[")[0]
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        outcomes[(owner, name)] = (
            None if failure is None else (failure.get("message") or "") + (failure.text or "")
        )
    return outcomes


@pytest.fixture(scope="module")
def broken_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str | None]:
    folder = tmp_path_factory.mktemp("broken-serializers")
    classes = "".join(CLASS_TEMPLATE.format(name=name) for name in MUST_FAIL)
    (folder / "test_broken_serializers.py").write_text(SUITE_MODULE.format(classes=classes))
    _, report = _pytest(["test_broken_serializers.py"], folder)
    return _outcomes(report)


@pytest.mark.parametrize("serializer", sorted(MUST_FAIL))
def test_the_suite_fails_a_broken_serializer_naming_the_promise(
    broken_outcomes: dict[tuple[str, str], str | None], serializer: str
) -> None:
    for test, phrase in MUST_FAIL[serializer].items():
        message = broken_outcomes[(serializer, test)]
        assert message is not None, f"{serializer} broke a promise but {test} passed"
        assert phrase in message, (
            f"{test} failed for {serializer} without saying {phrase!r}:\n{message}"
        )


# ---------------------------------------------------------------------- the store suite


STORE_SUITE = """
import pytest

from taskshed import register_plugin
from taskshed.testing import DataStoreSuite
from tests.conformance import broken_serializers

register_plugin(broken_serializers)


class TestMemory(DataStoreSuite):
    shared_between_instances = supports_multiple_processes = persistent = False

    @pytest.fixture
    def datastore_url(self):
        return "memory://"


class TestMemoryWithRich(TestMemory):
    serializer = "json-rich"
"""


@pytest.mark.parametrize(
    ("option", "fails"),
    [
        pytest.param([], set(), id="json"),
        pytest.param(["--taskshed-serializer=json-rich"], set(), id="json-rich"),
        pytest.param(
            ["--taskshed-serializer=broken-lossy"],
            {"test_plain_json_kwargs_round_trip"},
            id="broken-lossy",
        ),
    ],
)
def test_the_store_suite_runs_with_the_serializer_given_on_the_command_line(
    tmp_path: Path, option: list[str], fails: set[str]
) -> None:
    (tmp_path / "test_store_suite.py").write_text(STORE_SUITE)
    result, report = _pytest(["test_store_suite.py", "-k", "kwargs", *option], tmp_path)
    outcomes = _outcomes(report)
    failed = {test for (owner, test), message in outcomes.items() if message is not None}
    # The class that names its own serializer is not moved by the command line.
    assert not {test for (owner, test), m in outcomes.items() if m and owner == "MemoryWithRich"}
    assert failed == fails, result.stdout[-4000:]
    assert len(outcomes) >= 6, result.stdout[-2000:]
