"""Running one callback: which kwargs fit a callback, and how a run's end is classified."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from taskshed.workers.running import Signatures


def positional(x, y=1): ...  # type: ignore[no-untyped-def]
def positional_only(x, /, y): ...  # type: ignore[no-untyped-def]
def anything(*args, **kwargs): ...  # type: ignore[no-untyped-def]
def keyword_only(x, *, z): ...  # type: ignore[no-untyped-def]
def optional_positional_only(x=1, /, *, z=2): ...  # type: ignore[no-untyped-def]
async def some_keywords(**kwargs): ...  # type: ignore[no-untyped-def]


class CallableObject:
    async def __call__(self, x: int) -> None: ...


CALLBACKS = [
    positional, positional_only, anything, keyword_only, optional_positional_only,
    some_keywords, CallableObject(), print, len,
]  # fmt: skip
KWARGS = [{}, {"x": 1}, {"y": 2}, {"x": 1, "y": 2}, {"z": 3}, {"x": 1, "z": 3}, {"q": 1}]


def binds(callback: Callable[..., Any], kwargs: dict[str, Any]) -> bool:
    try:
        inspect.signature(callback).bind(**kwargs)
    except TypeError:
        return False
    except ValueError:  # no signature to read: the call decides
        return True
    return True


@pytest.mark.parametrize("callback", CALLBACKS, ids=lambda c: getattr(c, "__name__", "object"))
def test_the_cached_check_agrees_with_binding(callback: Callable[..., Any]) -> None:
    signatures = Signatures()
    for kwargs in KWARGS:
        for _ in range(2):  # the second answer comes from the cache
            assert signatures.of(callback).accepts(kwargs) == binds(callback, kwargs), kwargs
