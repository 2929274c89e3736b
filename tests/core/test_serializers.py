import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from taskshed.datastores import InMemoryDataStore
from taskshed.errors import SerializationError
from taskshed.models import Task
from taskshed.schedulers import AsyncScheduler
from taskshed.serializers import JSONSerializer, RichJSONSerializer

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_json_is_the_references_compact_json_byte_for_byte():
    kwargs = {"a": 1, "b": [1, 2, {"c": "é"}], "d": None, "e": True}
    assert JSONSerializer().dumps(kwargs) == json.dumps(kwargs, separators=(",", ":"))


def test_json_rejects_nan():
    with pytest.raises(ValueError):
        JSONSerializer().dumps({"x": float("nan")})


RICH_VALUES = {
    "dt": datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2))),
    "naive": datetime(2030, 1, 2, 3, 4, 5),
    "d": date(2030, 1, 2),
    "t": time(3, 4, 5, 6),
    "td": timedelta(days=-1, seconds=5, microseconds=7),
    "u": UUID("12345678-1234-5678-1234-567812345678"),
    "dec": Decimal("1.10"),
    "b": b"\x00\xffbytes",
    "s": {1, 2, 3},
    "fs": frozenset({"a"}),
    "tup": (1, "two", (3,)),
    "nested": {"list": [date(2030, 1, 1), {"x": (1, 2)}]},
    "plain": {"a": [1, 2.5, "x", None, False]},
}


def test_rich_round_trips_every_supported_type():
    serializer = RichJSONSerializer()
    back = serializer.loads(serializer.dumps(RICH_VALUES))
    assert back == RICH_VALUES
    assert type(back["tup"]) is tuple and type(back["s"]) is set and type(back["fs"]) is frozenset
    assert type(back["dec"]) is Decimal and back["dec"].as_tuple() == Decimal("1.10").as_tuple()


def test_rich_output_is_readable_json():
    text = RichJSONSerializer().dumps({"when": date(2030, 1, 2)})
    assert json.loads(text) == {"when": {"$taskshed": "date", "v": "2030-01-02"}}


def test_rich_keeps_a_user_dict_that_looks_like_a_tag():
    serializer = RichJSONSerializer()
    tricky = {"x": {"$taskshed": "date", "v": "2030-01-02"}}
    assert serializer.loads(serializer.dumps(tricky)) == tricky


def test_rich_reads_plain_json_written_by_the_reference():
    assert RichJSONSerializer().loads('{"a":[1,2],"b":"x"}') == {"a": [1, 2], "b": "x"}


class Opaque:
    pass


@pytest.mark.parametrize("serializer", [JSONSerializer(), RichJSONSerializer()])
async def test_unencodable_value_names_task_and_key_and_stores_nothing(serializer):
    store = InMemoryDataStore(serializer=serializer)
    scheduler = AsyncScheduler(store)
    await scheduler.start()
    await scheduler.add_task("cb", NOW, {"fine": 1}, task_id="keep")
    good = Task(callback="cb", run_at=NOW, task_id="good", kwargs={"a": 1})
    bad = Task(callback="cb", run_at=NOW, task_id="bad-one", kwargs={"ok": 1, "obj": Opaque()})
    with pytest.raises(SerializationError) as info:
        await scheduler.add_tasks([good, bad])
    assert info.value.task_id == "bad-one" and info.value.key == "obj"
    assert "bad-one" in str(info.value) and "obj" in str(info.value)
    assert [
        t.task_id for t in await scheduler.fetch_tasks(task_ids=["keep", "good", "bad-one"])
    ] == ["keep"]


async def test_add_task_with_unencodable_value_raises_before_storing():
    scheduler = AsyncScheduler(InMemoryDataStore())
    with pytest.raises(SerializationError):
        await scheduler.add_task("cb", NOW, {"when": datetime.now()}, task_id="x")
    assert await scheduler.fetch_tasks(task_ids=["x"]) == []


async def test_store_with_rich_serializer_hands_callbacks_real_objects():
    store = InMemoryDataStore(serializer=RichJSONSerializer())
    await store.add_tasks([Task(callback="cb", run_at=NOW, task_id="t", kwargs=RICH_VALUES)])
    (task,) = await store.fetch_tasks(["t"])
    assert task.kwargs == RICH_VALUES


async def test_kwargs_too_large_for_every_store_are_refused_by_name():
    store = InMemoryDataStore()
    huge = Task(
        callback="cb", run_at=NOW, task_id="huge", kwargs={"blob": "x" * (16 * 1024 * 1024)}
    )
    with pytest.raises(SerializationError, match="huge"):
        await store.add_tasks([huge])
    assert await store.fetch_tasks(["huge"]) == []
