"""taskshed's pytest plugin, loaded by pytest wherever taskshed is installed (entry point ``pytest11``).

It has pytest rewrite the ``assert`` statements of the conformance suites, so
a failing store or serializer sees the values involved next to the message
naming the promise it broke (pytest rewrites only test modules and plugins on
its own), and adds ``--taskshed-serializer``. Disable it with ``-p no:taskshed``.
"""

from __future__ import annotations

import pytest

#: The packages whose asserts pytest rewrites when they are imported.
REWRITTEN = ("taskshed.testing.suite", "taskshed.testing.serializers")

pytest.register_assert_rewrite(*REWRITTEN)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("taskshed", "taskshed conformance suites")
    group.addoption(
        "--taskshed-serializer",
        metavar="NAME",
        default=None,
        help="open the store under test of every DataStoreSuite with this serializer "
        "(a name `taskshed plugins` lists) instead of json, unless the suite class sets "
        "its own `serializer`",
    )
