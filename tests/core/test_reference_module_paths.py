"""Every module path of TaskShed 0.10 still imports, with the names 0.10 defined or imported there.

IDEs auto-import from the defining module (``from taskshed.models.task_models
import Task``), so 0.10 code uses these paths as often as the package ones.
The names below were read off TaskShed 0.10.0's own modules.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from taskshed.datastores.base import DataStore
from taskshed.datastores.memory import InMemoryDataStore
from taskshed.errors import IncorrectCallbackNameError, TaskNotFoundError
from taskshed.models import Task, TaskExecutionTime
from taskshed.schedulers import AsyncScheduler
from taskshed.workers import BaseWorker, EventDrivenWorker, PollingWorker
from taskshed.workers.base import Callback
from tests.support.services import require_module

#: module -> the names 0.10 defined or imported there, and what each must be here.
CORE_PATHS: dict[str, dict[str, object]] = {
    "taskshed.models": {"Task": Task, "TaskExecutionTime": TaskExecutionTime},
    "taskshed.models.task_models": {"Task": Task, "TaskExecutionTime": TaskExecutionTime},
    "taskshed.schedulers": {"AsyncScheduler": AsyncScheduler},
    "taskshed.schedulers.async_scheduler": {
        "AsyncScheduler": AsyncScheduler,
        "DataStore": DataStore,
        "Task": Task,
        "TaskExecutionTime": TaskExecutionTime,
        "EventDrivenWorker": EventDrivenWorker,
        "Callback": Callback,
    },
    "taskshed.workers": {"EventDrivenWorker": EventDrivenWorker, "PollingWorker": PollingWorker},
    "taskshed.workers.base_worker": {
        "BaseWorker": BaseWorker,
        "Callback": Callback,
        "DataStore": DataStore,
        "Task": Task,
    },
    "taskshed.workers.event_driven_worker": {
        "EventDrivenWorker": EventDrivenWorker,
        "BaseWorker": BaseWorker,
        "Callback": Callback,
        "DataStore": DataStore,
    },
    "taskshed.workers.polling_worker": {
        "PollingWorker": PollingWorker,
        "BaseWorker": BaseWorker,
        "Callback": Callback,
        "DataStore": DataStore,
    },
    "taskshed.datastores": {"DataStore": DataStore, "InMemoryDataStore": InMemoryDataStore},
    "taskshed.datastores.base_datastore": {
        "DataStore": DataStore,
        "Task": Task,
        "TaskExecutionTime": TaskExecutionTime,
    },
    "taskshed.datastores.memory_datastore": {
        "InMemoryDataStore": InMemoryDataStore,
        "DataStore": DataStore,
        "Task": Task,
        "TaskExecutionTime": TaskExecutionTime,
        "TaskNotFoundError": TaskNotFoundError,
    },
    "taskshed.utils.errors": {
        "TaskNotFoundError": TaskNotFoundError,
        "IncorrectCallbackNameError": IncorrectCallbackNameError,
    },
}

#: module -> (plugin module, extra, the names it provides there).
PLUGIN_PATHS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "taskshed.datastores.mysql_datastore": (
        "taskshed_sqlalchemy",
        "mysql",
        ("MySQLConfig", "MySQLDataStore"),
    ),
    "taskshed.datastores.redis_datastore": (
        "taskshed_redis",
        "redis",
        ("RedisConfig", "RedisDataStore"),
    ),
    "taskshed.datastores": ("taskshed_sqlalchemy", "mysql", ("MySQLConfig", "MySQLDataStore")),
}


@pytest.mark.parametrize("module_name", sorted(CORE_PATHS))
def test_every_reference_module_path_imports_with_its_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name, expected in CORE_PATHS[module_name].items():
        assert getattr(module, name) is expected, f"{module_name}.{name}"


def test_the_compact_json_separators_are_where_0_10_kept_them() -> None:
    from taskshed.models.task_models import COMPACT_JSON_SEPARATORS

    assert COMPACT_JSON_SEPARATORS == (",", ":")


def test_from_imports_of_0_10_read_as_0_10_wrote_them() -> None:
    # The statements exactly as a 0.10 application (or its IDE) wrote them.
    from taskshed.datastores.base_datastore import DataStore as RefDataStore
    from taskshed.datastores.memory_datastore import InMemoryDataStore as RefMemory
    from taskshed.models.task_models import Task as RefTask
    from taskshed.schedulers.async_scheduler import AsyncScheduler as RefScheduler
    from taskshed.workers.base_worker import BaseWorker as RefBase
    from taskshed.workers.event_driven_worker import EventDrivenWorker as RefEvent
    from taskshed.workers.polling_worker import PollingWorker as RefPolling

    assert issubclass(RefMemory, RefDataStore)
    assert issubclass(RefEvent, RefBase) and issubclass(RefPolling, RefBase)
    assert RefTask is Task and RefScheduler is AsyncScheduler


@pytest.mark.parametrize("module_name", sorted(PLUGIN_PATHS))
def test_plugin_store_paths_give_the_plugins_classes(module_name: str) -> None:
    plugin, _, names = PLUGIN_PATHS[module_name]
    provider = require_module(plugin, install="./dev.sh setup")
    module = importlib.import_module(module_name)
    for name in names:
        assert getattr(module, name) is getattr(provider, name)


@pytest.mark.parametrize("module_name", sorted(PLUGIN_PATHS))
def test_a_missing_plugin_is_an_import_error_naming_the_extra(
    module_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin, extra, names = PLUGIN_PATHS[module_name]
    # The module itself imports (its plugin names load on first use) ...
    module = importlib.import_module(module_name)
    for name in list(sys.modules):
        if name == plugin or name.startswith(plugin + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, plugin, None)  # as if it were not installed
    for name in names:
        # ... and a plugin class names the extra that brings it.
        with pytest.raises(ImportError, match=rf"pip install 'taskshed\[{extra}\]'"):
            getattr(module, name)
    with pytest.raises(ImportError, match=rf"taskshed\[{extra}\]"):
        exec(f"from {module_name} import {names[0]}", {})


def test_unknown_names_are_still_attribute_errors() -> None:
    import taskshed.datastores.mysql_datastore as mysql_datastore

    with pytest.raises(AttributeError):
        _ = mysql_datastore.RedisDataStore  # the Redis store is not in the MySQL module
    with pytest.raises(ImportError):
        exec("from taskshed.datastores.redis_datastore import Nothing", {})
