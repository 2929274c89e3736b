"""The serializer conformance suite: what every kwargs serializer must do for the stores.

Subclass :class:`SerializerSuite` as ``TestMySerializer``, override the
``serializer_name`` fixture (or ``make_serializer``, for one not registered
by a plugin) and declare in ``extra_values`` what it keeps beyond JSON::

    class TestMsgpack(SerializerSuite):
        extra_values = {"raw": b"\\x00\\xff", "when": datetime(2041, 1, 1)}

        @pytest.fixture
        def serializer_name(self):
            return "msgpack"

To run the datastore suite with it as well, see ``--taskshed-serializer``
in ``docs/plugins.md``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, ClassVar

import pytest

from taskshed.datastores.memory import InMemoryDataStore
from taskshed.errors import SerializationError
from taskshed.models import Task
from taskshed.registry import default_registry
from taskshed.serializers.base import Serializer, encode_kwargs
from taskshed.testing.suite.kwargs import PLAIN_JSON

_T0 = datetime(2040, 1, 1, 12, 0, tzinfo=timezone.utc)

#: Text no serializer's ``loads`` should accept: truncated or not its format at all.
GARBAGE = ("", "{", '{"a": ', "\x00\x01\x02", "not serialized kwargs at all", "]]]")


def _same(actual: Any, expected: Any, where: str) -> None:
    """Equal, and of the same type all the way down (1 is not 1.0, True is not 1, () is not [])."""
    assert type(actual) is type(expected), (
        f"{where}: came back as {type(actual).__name__} {actual!r:.80}, "
        f"expected {type(expected).__name__} {expected!r:.80}"
    )
    if isinstance(expected, dict):
        assert set(actual) == set(expected), (
            f"{where}: keys {sorted(map(repr, actual))} came back, expected "
            f"{sorted(map(repr, expected))}"
        )
        for key in expected:
            _same(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), (
            f"{where}: {len(actual)} items, expected {len(expected)}"
        )
        for n, (got, want) in enumerate(zip(actual, expected, strict=True)):
            _same(got, want, f"{where}[{n}]")
    else:
        assert actual == expected, (
            f"{where}: came back as {actual!r:.80}, expected {expected!r:.80}"
        )


class SerializerSuite:
    """Every serializer conformance test. Override ``serializer_name`` (or ``make_serializer``)."""

    #: Values beyond plain JSON the serializer promises to give back as they
    #: went in, type included (``{"when": datetime(...), "raw": b"..."}``).
    extra_values: ClassVar[dict[str, Any]] = {}
    #: Values it must refuse with ``TypeError``/``ValueError`` from ``dumps``.
    unencodable_values: ClassVar[dict[str, Any]] = {"object": object()}

    # ------------------------------------------------------------------ fixtures to override

    @pytest.fixture
    def serializer_name(self) -> str:
        """The name the serializer is registered under. Override this fixture."""
        raise NotImplementedError(
            f"{type(self).__name__} must override the 'serializer_name' fixture "
            "(or 'make_serializer') to say which serializer to test"
        )

    @pytest.fixture
    def make_serializer(self, serializer_name: str) -> Callable[[], Serializer]:
        """Builds the serializer; by default through the plugins, by ``serializer_name``."""

        def make() -> Serializer:
            return default_registry().serializer(serializer_name).factory()

        return make

    @pytest.fixture
    def serializer(self, make_serializer: Callable[[], Serializer]) -> Serializer:
        return make_serializer()

    # ------------------------------------------------------------------ helpers

    def round_trip(self, serializer: Serializer, kwargs: dict[str, Any]) -> dict[str, Any]:
        text = serializer.dumps(copy.deepcopy(kwargs))
        assert isinstance(text, str), (
            f"dumps() must return str (stores keep text), not {type(text).__name__}"
        )
        back = serializer.loads(text)
        assert isinstance(back, dict), f"loads() must return a dict, not {type(back).__name__}"
        return back

    # ------------------------------------------------------------------ the tests

    def test_it_has_a_name_and_both_methods(self, serializer: Serializer) -> None:
        assert isinstance(getattr(serializer, "name", None), str) and serializer.name, (
            "a serializer needs a non-empty str `name` (it appears in error messages)"
        )
        assert callable(getattr(serializer, "dumps", None)), "a serializer needs dumps(kwargs)"
        assert callable(getattr(serializer, "loads", None)), "a serializer needs loads(text)"

    def test_plain_json_values_round_trip_with_their_types(self, serializer: Serializer) -> None:
        _same(self.round_trip(serializer, PLAIN_JSON), PLAIN_JSON, "kwargs")

    def test_empty_kwargs_round_trip(self, serializer: Serializer) -> None:
        assert self.round_trip(serializer, {}) == {}, "empty kwargs did not come back empty"

    def test_declared_extra_values_round_trip_with_their_types(
        self, serializer: Serializer
    ) -> None:
        if not self.extra_values:
            pytest.skip("no extra_values declared for this serializer")
        for key, value in self.extra_values.items():
            _same(self.round_trip(serializer, {key: value}), {key: value}, "kwargs")
        _same(self.round_trip(serializer, self.extra_values), self.extra_values, "kwargs")

    def test_its_text_fits_every_store(self, serializer: Serializer) -> None:
        # PostgreSQL text can't hold NUL; every store keeps UTF-8 text.
        text = serializer.dumps({**PLAIN_JSON, **self.extra_values, "nul": "a\x00b"})
        assert "\x00" not in text, (
            "dumps() wrote a NUL character, which PostgreSQL text columns refuse; escape it"
        )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            pytest.fail(f"dumps() wrote text that isn't valid UTF-8 ({exc}); stores keep UTF-8")

    def test_unencodable_values_raise_type_or_value_error(self, serializer: Serializer) -> None:
        for key, value in self.unencodable_values.items():
            with pytest.raises((TypeError, ValueError)):
                serializer.dumps({key: value})
            # ... which the host turns into an error naming the task and the key.
            task = Task(task_id="t", callback="cb", run_at=_T0, kwargs={"fine": 1, key: value})
            with pytest.raises(SerializationError) as caught:
                encode_kwargs(serializer, task)
            assert caught.value.key == key, (
                f"the error names kwargs key {caught.value.key!r}, not the culprit {key!r}: "
                "dumps() must fail for the bad value alone too"
            )

    def test_garbage_raises_value_error_on_loads(self, serializer: Serializer) -> None:
        # Readers skip records they can't decode, and know them by this error.
        for text in GARBAGE:
            try:
                back = serializer.loads(text)
            except (TypeError, ValueError):
                continue
            except Exception as exc:
                pytest.fail(
                    f"loads({text!r}) raised {type(exc).__name__}: {exc}; it must raise "
                    "ValueError (or TypeError) so that stores skip the record instead of failing"
                )
            assert not isinstance(back, dict), (
                f"loads({text!r}) accepted garbage as the kwargs {back!r}; it must raise ValueError"
            )

    def test_loads_returns_fresh_objects(self, serializer: Serializer) -> None:
        text = serializer.dumps({"items": [1, 2], "nested": {"a": [3]}})
        first = serializer.loads(text)
        first["items"].append(99)
        first["nested"]["a"].append(99)
        assert serializer.loads(text) == {"items": [1, 2], "nested": {"a": [3]}}, (
            "loads() handed out shared objects: changing one result changed the next"
        )

    def test_a_large_payload_round_trips(self, serializer: Serializer) -> None:
        big = {"blob": "x" * 2_000_000, "many": list(range(50_000))}
        _same(self.round_trip(serializer, big), big, "kwargs")

    def test_a_store_keeps_kwargs_through_it(self, serializer: Serializer) -> None:
        kwargs = {**PLAIN_JSON, **self.extra_values}

        async def store_and_fetch() -> dict[str, Any]:
            store = InMemoryDataStore(serializer=serializer)
            await store.start()
            try:
                await store.add_tasks([Task(task_id="t", callback="cb", run_at=_T0, kwargs=kwargs)])
                [task] = await store.fetch_tasks(["t"])
                return task.kwargs
            finally:
                await store.shutdown()

        _same(asyncio.run(store_and_fetch()), kwargs, "kwargs after a store round trip")
