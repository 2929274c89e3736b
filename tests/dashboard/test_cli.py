"""``taskshed dashboard``: options, authentication from the environment, refusing open binds."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from taskshed_dashboard import BasicAuth, TokenAuth
from taskshed_dashboard.auth import is_loopback
from taskshed_dashboard.cli import BASIC_AUTH_ENV, TOKEN_ENV, auth_from, check_binding

from taskshed.cli.main import build_parser, main
from taskshed.errors import ConfigurationError
from tests.support.ports import free_port

TOKEN = "a-long-enough-token-0123"


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["dashboard", *argv])


def test_the_command_comes_with_the_plugin() -> None:
    parsed = args("--host", "::1", "--port", "9000", "--read-only", "--hide-kwargs")
    assert (parsed.host, parsed.port, parsed.read_only, parsed.hide_kwargs) == (
        "::1",
        9000,
        True,
        True,
    )
    assert "dashboard" in build_parser().format_help()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_authentication(host: str) -> None:
    assert is_loopback(host)
    check_binding(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
def test_any_other_address_requires_authentication(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigurationError, match="without authentication"):
        check_binding(host, None)
    check_binding(host, TokenAuth(TOKEN))
    check_binding(host, BasicAuth("ops", "pw"))


def test_authentication_comes_from_options_or_the_environment() -> None:
    assert auth_from(args(), {}) is None
    assert auth_from(args(), {TOKEN_ENV: TOKEN}) == TokenAuth(TOKEN)
    assert auth_from(args(), {BASIC_AUTH_ENV: "ops:pa:ss"}) == BasicAuth("ops", "pa:ss")
    assert auth_from(args("--token", TOKEN), {BASIC_AUTH_ENV: "ops:pw"}) == TokenAuth(TOKEN)
    assert auth_from(args("--basic-auth", "ops:pw"), {TOKEN_ENV: TOKEN}) == BasicAuth("ops", "pw")
    with pytest.raises(ConfigurationError, match="not both"):
        auth_from(args(), {TOKEN_ENV: TOKEN, BASIC_AUTH_ENV: "ops:pw"})
    with pytest.raises(ConfigurationError, match="not both"):
        auth_from(args("--token", TOKEN, "--basic-auth", "ops:pw"), {})
    with pytest.raises(ConfigurationError, match="at least 16"):
        auth_from(args("--token", "short"), {})
    with pytest.raises(ConfigurationError, match="USER:PASSWORD"):
        auth_from(args("--basic-auth", "nopassword"), {})


def test_credentials_never_show_in_a_repr() -> None:
    assert TOKEN not in repr(TokenAuth(TOKEN))
    assert "pa55" not in repr(BasicAuth("ops", "pa55"))


def test_serving_everywhere_without_authentication_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv(BASIC_AUTH_ENV, raising=False)
    assert main(["dashboard", "--datastore", "memory://", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert "refusing to serve the dashboard on 0.0.0.0 without authentication" in err
    assert TOKEN_ENV in err


def test_the_command_serves_the_dashboard_until_interrupted(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, TOKEN_ENV: TOKEN}
    url = "sqlite+aiosqlite:///" + str(tmp_path / "cli.db")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskshed",
            "dashboard",
            "--datastore",
            url,
            "--port",
            str(port),
            "--root-path",
            "/tasks-ui",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # A reverse proxy serves /tasks-ui/... and strips the prefix on the way in.
                response = httpx.get(
                    f"http://127.0.0.1:{port}/",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=2,
                )
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the dashboard did not come up"
                time.sleep(0.1)
        assert response.status_code == 200
        assert "sqlite+aiosqlite:///" in response.text
        assert 'href="/tasks-ui/tasks"' in response.text
        anonymous = httpx.get(f"http://127.0.0.1:{port}/workers", timeout=2)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/tasks-ui/login?next=%2Fworkers"
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "TokenAuth required" in output
    assert TOKEN not in output
