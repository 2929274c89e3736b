"""Loading the plugin (every ``taskshed`` command does) doesn't import redis-py."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import sys
from taskshed.plugins import create_plugin_manager
create_plugin_manager()
import taskshed_redis.plugin
from taskshed_redis import RedisConfig
assert "redis" not in sys.modules, sorted(m for m in sys.modules if m.startswith("redis"))
from taskshed_redis import RedisDataStore
assert "redis.asyncio" in sys.modules
print("ok")
"""


def test_the_plugin_loads_without_importing_redis_py() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
