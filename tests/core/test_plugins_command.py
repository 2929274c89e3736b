"""``taskshed plugins`` as a user runs it: broken plugins named, clashes flagged, --check, -v, pipes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TASKSHED = [sys.executable, "-m", "taskshed.cli.main"]

#: Plugin modules, each broken in its own way (or fine), importable through TASKSHED_PLUGINS.
MODULES = {
    "single_backend_plugin": """
        @hookimpl
        def taskshed_datastore_backends():
            return DataStoreBackend(("single",), open_memory)
    """,
    "string_schemes_plugin": """
        @hookimpl
        def taskshed_datastore_backends():
            return [DataStoreBackend(schemes="wrongtype", factory=open_memory)]
    """,
    "raising_plugin": """
        @hookimpl
        def taskshed_datastore_backends():
            raise RuntimeError("boom in the hook")
    """,
    "dict_plugin": """
        @hookimpl
        def taskshed_datastore_backends():
            return [{"schemes": ("d",)}]
    """,
    "clash_one_plugin": """
        @hookimpl
        def taskshed_datastore_backends():
            return [DataStoreBackend(("clash",), open_memory)]
    """,
    "clash_two_plugin": """
        @hookimpl
        def taskshed_datastore_backends():
            return [DataStoreBackend(("clash",), open_memory)]
    """,
    "driverless_plugin": """
        def open_driverless(url, serializer):
            import taskshed_no_such_driver_xyz

        @hookimpl
        def taskshed_datastore_backends():
            return [
                DataStoreBackend(
                    ("driverless",),
                    open_driverless,
                    description="Needs a driver nobody installed.",
                    examples=("driverless://host/db",),
                ),
                DataStoreBackend(
                    ("declared",), open_memory, requires=("taskshed_no_such_driver_xyz",)
                ),
            ]
    """,
    "unstartable_plugin": """
        class Unstartable(InMemoryDataStore):
            async def start(self):
                raise ConnectionRefusedError("nobody listens on port 1")

        @hookimpl
        def taskshed_datastore_backends():
            return [DataStoreBackend(("unstartable",), lambda url, s: Unstartable(serializer=s))]
    """,
}

HEADER = """
from taskshed import hookimpl
from taskshed.backends import DataStoreBackend
from taskshed.datastores import InMemoryDataStore


def open_memory(url, serializer):
    return InMemoryDataStore(serializer=serializer)
"""


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    for name, body in MODULES.items():
        (folder / f"{name}.py").write_text(HEADER + textwrap.dedent(body))
    return folder


def taskshed(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TASKSHED_")}
    return subprocess.run(
        [*TASKSHED, *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def plugins_env(plugin_dir: Path, *modules: str, **extra: str) -> dict[str, str]:
    return {"PYTHONPATH": str(plugin_dir), "TASKSHED_PLUGINS": ",".join(modules), **extra}


BROKEN = {
    "single_backend_plugin": "returned one DataStoreBackend, not a list",
    "string_schemes_plugin": "not the string 'wrongtype'",
    "raising_plugin": "raised RuntimeError: boom in the hook",
    "dict_plugin": "item 1 is a dict",
}


def test_each_broken_plugin_is_one_error_line_naming_it_and_the_rest_works(
    tmp_path: Path, plugin_dir: Path
) -> None:
    env = plugins_env(plugin_dir, *BROKEN, TASKSHED_DATASTORE="memory://")
    result = taskshed("plugins", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    for module, phrase in BROKEN.items():
        [row] = [line for line in lines if line.startswith(module)]
        assert "ERROR:" in row and phrase in row, row
    assert any(line.startswith("memory ") and "memory://" in line for line in lines)
    # Every other command keeps working with those plugins installed.
    demo = taskshed("demo", "--datastore", "memory://", cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "done: 7 runs" in demo.stdout


def test_strict_mode_makes_a_broken_answer_a_one_line_error(
    tmp_path: Path, plugin_dir: Path
) -> None:
    env = plugins_env(plugin_dir, "raising_plugin", TASKSHED_STRICT_PLUGINS="1")
    demo = taskshed("demo", "--datastore", "memory://", cwd=tmp_path, env=env)
    assert demo.returncode == 1
    assert "Traceback" not in demo.stderr
    [error] = [line for line in demo.stderr.splitlines() if line.startswith("taskshed: error:")]
    assert "plugin 'raising_plugin'" in error and "boom in the hook" in error
    listing = taskshed("plugins", cwd=tmp_path, env=env)
    assert listing.returncode == 1 and "Traceback" not in listing.stderr
    assert "memory://" in listing.stdout and "boom in the hook" in listing.stdout


def test_a_scheme_clash_is_flagged_in_the_listing(tmp_path: Path, plugin_dir: Path) -> None:
    env = plugins_env(
        plugin_dir, "clash_one_plugin", "clash_two_plugin", TASKSHED_DATASTORE="memory://"
    )
    result = taskshed("plugins", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "clash:// (CLASH)" in result.stdout
    assert (
        "CLASH: datastore URL scheme clash:// is provided by plugins "
        "'clash_one_plugin', 'clash_two_plugin'"
    ) in result.stdout


def test_verbose_shows_descriptions_examples_and_missing_modules(
    tmp_path: Path, plugin_dir: Path
) -> None:
    env = plugins_env(plugin_dir, "driverless_plugin", TASKSHED_DATASTORE="memory://")
    result = taskshed("plugins", "-v", cwd=tmp_path, env=env)
    text = result.stdout
    assert "In this process's memory; nothing survives a restart." in text
    assert "example: memory://" in text
    assert "Needs a driver nobody installed." in text and "example: driverless://host/db" in text
    assert "needs: taskshed_no_such_driver_xyz (MISSING: pip install" in text
    assert "declared:// (missing taskshed_no_such_driver_xyz)" in text


@pytest.mark.parametrize("scheme", ["driverless", "declared"])
def test_a_configured_store_without_its_driver_is_an_error(
    tmp_path: Path, plugin_dir: Path, scheme: str
) -> None:
    env = plugins_env(plugin_dir, "driverless_plugin", TASKSHED_DATASTORE=f"{scheme}://host/db")
    result = taskshed("plugins", cwd=tmp_path, env=env)
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if line.startswith("datastore:")]
    assert "ERROR:" in line and "plugin 'driverless_plugin'" in line and f"{scheme}://" in line
    assert "taskshed_no_such_driver_xyz" in line and "pip install" in line
    # The worker command says the same in one line, without a traceback.
    (tmp_path / "jobs.py").write_text("async def job():\n    pass\n\nCALLBACKS = {'job': job}\n")
    env["PYTHONPATH"] += os.pathsep + str(tmp_path)
    worker = taskshed("worker", "jobs:CALLBACKS", cwd=tmp_path, env=env)
    assert worker.returncode == 1 and "Traceback" not in worker.stderr, worker.stderr
    [error] = worker.stderr.strip().splitlines()
    assert error.startswith("taskshed: error:") and "plugin 'driverless_plugin'" in error
    assert "taskshed_no_such_driver_xyz" in error


def test_check_starts_the_configured_store(tmp_path: Path, plugin_dir: Path) -> None:
    ok = taskshed("plugins", "--check", cwd=tmp_path, env={"TASKSHED_DATASTORE": "memory://"})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "datastore:  memory:// (from environment TASKSHED_DATASTORE)  OK: started" in ok.stdout
    assert "serializer: json (from default)  OK: kwargs round-trip" in ok.stdout

    env = plugins_env(plugin_dir, "unstartable_plugin", TASKSHED_DATASTORE="unstartable://x")
    plain = taskshed("plugins", cwd=tmp_path, env=env)
    assert plain.returncode == 0, plain.stdout  # building it is fine; nothing was started
    checked = taskshed("plugins", "--check", cwd=tmp_path, env=env)
    assert checked.returncode == 1
    assert "ConnectionRefusedError: nobody listens on port 1" in checked.stdout
    assert "Traceback" not in checked.stderr


def test_check_reports_an_unknown_serializer(tmp_path: Path) -> None:
    env = {"TASKSHED_DATASTORE": "memory://", "TASKSHED_SERIALIZER": "yaml"}
    result = taskshed("plugins", "--check", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "serializer: yaml (from environment TASKSHED_SERIALIZER)  ERROR: unknown serializer" in (
        result.stdout
    )


def test_a_closed_pipe_ends_the_listing_quietly(tmp_path: Path) -> None:
    """``taskshed plugins | head -1``: the reader is gone before we write."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TASKSHED_")}
    process = subprocess.Popen(
        [*TASKSHED, "plugins", "-v"],
        cwd=tmp_path,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    errors = process.stderr.read()
    process.wait(timeout=60)
    assert "BrokenPipeError" not in errors and "Traceback" not in errors, errors
    shell = subprocess.run(
        f"{sys.executable} -m taskshed.cli.main plugins -v | head -1",
        shell=True,
        cwd=tmp_path,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.stdout.startswith("PLUGIN"), shell.stdout
    assert "Traceback" not in shell.stderr and "BrokenPipe" not in shell.stderr, shell.stderr
