"""The Lua scripts that make every change to a store atomic on the Redis server.

Each script is ``lua/prelude.lua`` followed by ``lua/<name>.lua``; every one
takes ``KEYS = [schedule, claims]`` and ``ARGV[1] = key base`` (see
:mod:`taskshed_redis.keys`). redis-py runs them with EVALSHA and loads them on
a server that doesn't know them yet.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

SCRIPT_NAMES = (
    "add",
    "acquire",
    "adopt",
    "set_aside",
    "complete",
    "confirm",
    "extend",
    "release",
    "retry",
    "update_times",
    "pause_tasks",
    "pause_group",
    "remove_tasks",
    "remove_group",
    "sweep",
    "prune",
    "read_due",
    "read_tasks",
    "list",
    "wakeup",
    "workers",
)


#: Scripts that run at most once per call, however often the call is sent
#: (see :mod:`taskshed_redis.retries`): their last argument is a call id.
RUN_ONCE = frozenset({"add", "update_times"})
#: How long a run-once script remembers a call id and its result, milliseconds.
RUN_ONCE_MEMORY_MS = 60_000

# A run-once script's guard: the call id comes off the end of ARGV; a call id
# seen before returns the result the first run gave, without running again.
_ONCE_HEAD = """
local once_key = base .. ':once:' .. table.remove(ARGV)
local remembered = redis.call('GET', once_key)
if remembered then return cjson.decode(remembered)[1] end
local result = (function()
"""
_ONCE_TAIL = f"""
end)()
redis.call('SET', once_key, cjson.encode({{result}}), 'PX', {RUN_ONCE_MEMORY_MS})
return result
"""


@cache
def script_source(name: str) -> str:
    """The full Lua source of script ``name`` (prelude included)."""
    if name not in SCRIPT_NAMES:
        raise KeyError(name)
    folder = files("taskshed_redis").joinpath("lua")
    prelude = folder.joinpath("prelude.lua").read_text(encoding="utf-8")
    body = folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")
    if name in RUN_ONCE:
        return f"{prelude}\n{_ONCE_HEAD}{body}{_ONCE_TAIL}"
    return f"{prelude}\n{body}"


class Scripts:
    """The scripts registered on one client, called with a store's two fixed keys and base."""

    def __init__(self, client: Any, keys: tuple[str, str], base: str) -> None:
        self._keys = list(keys)
        self._base = base
        # register_script only computes the SHA; the server learns the script
        # on first use (EVALSHA, then SCRIPT LOAD if the server answers NOSCRIPT).
        self._scripts = {name: client.register_script(script_source(name)) for name in SCRIPT_NAMES}

    async def run(self, name: str, *args: str | int | float) -> Any:
        return await self._scripts[name](keys=self._keys, args=[self._base, *args])
