"""Claim and Completion: frozen dataclasses whose __init__ is hand-written for speed.

The hand-written __init__ must take exactly the dataclass's fields, in order,
with the dataclass's defaults, and set every one of them.
"""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime, timedelta

import pytest

from taskshed.claims import Claim, Completion
from taskshed.models import Task

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("cls", [Claim, Completion])
def test_the_constructor_takes_the_fields_in_order_with_their_defaults(cls: type) -> None:
    params = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for param, field in zip(params, fields, strict=True):
        expected = (
            inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        )
        assert param.default == expected, field.name


def test_every_completion_field_is_set_from_its_own_argument() -> None:
    values = {
        "task_id": "t1",
        "token": "tok",
        "next_run_at": WHEN,
        "attempts": 3,
        "last_error": "ValueError: x",
        "last_run_at": WHEN - timedelta(seconds=1),
        "failed_at": WHEN + timedelta(seconds=2),
        "occurrence_at": WHEN + timedelta(seconds=3),
    }
    by_keyword = Completion(**values)  # type: ignore[arg-type]
    by_position = Completion(*values.values())  # type: ignore[arg-type]
    for completion in (by_keyword, by_position):
        assert {
            f.name: getattr(completion, f.name) for f in dataclasses.fields(Completion)
        } == values
    assert by_keyword == by_position and hash(by_keyword) == hash(by_position)


def test_a_three_argument_completion_takes_the_defaults() -> None:
    completion = Completion("t1", "tok", None)
    assert (completion.attempts, completion.last_error, completion.last_run_at) == (0, None, None)
    assert (completion.failed_at, completion.occurrence_at) == (None, None)
    assert completion.removes
    assert repr(completion).startswith("Completion(task_id='t1', token='tok', next_run_at=None")


def test_every_claim_field_is_set_from_its_own_argument() -> None:
    task = Task(callback="cb", run_at=WHEN, task_id="t1")
    claim = Claim(task, "tok", WHEN)
    assert (claim.task, claim.token, claim.lease_until, claim.task_id) == (task, "tok", WHEN, "t1")
    assert Claim(task=task, token="tok", lease_until=WHEN) == claim


@pytest.mark.parametrize(
    "instance",
    [Completion("t1", "tok", None), Claim(Task(callback="cb", run_at=WHEN), "tok", WHEN)],
)
def test_both_stay_frozen(instance: object) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        instance.token = "other"  # type: ignore[misc]


def test_replace_makes_a_changed_copy() -> None:
    completion = Completion("t1", "tok", None)
    moved = dataclasses.replace(completion, next_run_at=WHEN, attempts=2)
    assert (moved.task_id, moved.next_run_at, moved.attempts) == ("t1", WHEN, 2)
    assert completion.next_run_at is None and not moved.removes


def test_too_few_or_unknown_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        Completion("t1", "tok")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Completion("t1", "tok", None, retries=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Claim(Task(callback="cb", run_at=WHEN), "tok")  # type: ignore[call-arg]
