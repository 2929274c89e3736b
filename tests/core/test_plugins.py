"""The plugin host: entry points, built-ins, explicit registration, load errors, name clashes."""

import subprocess
import sys
import textwrap

import pytest

from taskshed import hookimpl, open_datastore, register_plugin
from taskshed.backends import DataStoreBackend
from taskshed.datastores import InMemoryDataStore
from taskshed.errors import DuplicateBackendError, PluginLoadError, UnknownBackendError
from taskshed.plugins import create_plugin_manager, unregister_plugin
from taskshed.registry import BackendRegistry


class ExtraStorePlugin:
    """A plugin object registered in code, serving its own scheme."""

    def __init__(self, scheme="extra"):
        self.scheme = scheme

    @hookimpl
    def taskshed_datastore_backends(self):
        return [
            DataStoreBackend((self.scheme,), lambda url, ser: InMemoryDataStore(serializer=ser))
        ]


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """Install a distribution whose entry point can't be imported, the way pip would lay it out."""
    dist = tmp_path / "broken_taskshed_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-taskshed-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [taskshed]
            broken = taskshed_no_such_module_xyz
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "broken"


def test_builtins_arrive_through_the_cores_entry_points():
    pm = create_plugin_manager()
    by_name = {info.name: info for info in pm.infos}
    assert by_name["memory"].source == "entry point"
    assert by_name["memory"].distribution == "taskshed"
    assert by_name["serializers"].source == "entry point"


def test_broken_plugin_is_reported_with_its_name_and_skipped(fake_distribution, caplog):
    pm = create_plugin_manager(strict=False)
    errors = {info.name: info for info in pm.load_errors}
    assert "ModuleNotFoundError" in errors["broken"].error
    assert errors["broken"].distribution == "broken-taskshed-plugin"
    assert "broken" in caplog.text
    registry = BackendRegistry.from_plugin_manager(pm)
    assert registry.datastore("memory")  # the rest still works


def test_strict_mode_turns_a_broken_plugin_into_an_error(fake_distribution, monkeypatch):
    monkeypatch.setenv("TASKSHED_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="broken"):
        create_plugin_manager()


def test_disabled_autoload_loads_builtins_and_explicit_plugins_only(fake_distribution, monkeypatch):
    monkeypatch.setenv("TASKSHED_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugin = ExtraStorePlugin()
    pm = create_plugin_manager(plugins=[plugin])
    assert pm.load_errors == []  # the broken entry point was never touched
    sources = {info.name: info.source for info in pm.infos}
    assert sources["memory"] == "built-in"
    registry = BackendRegistry.from_plugin_manager(pm)
    assert registry.datastore("extra")
    assert "sqlite+aiosqlite" not in registry.datastores


def test_register_plugin_makes_a_scheme_available_to_open_datastore():
    plugin = ExtraStorePlugin("registered-in-code")
    register_plugin(plugin, name="registered-in-code")
    try:
        assert isinstance(open_datastore("registered-in-code://"), InMemoryDataStore)
    finally:
        unregister_plugin(plugin)
    with pytest.raises(UnknownBackendError):
        open_datastore("registered-in-code://")


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_two_plugins_claiming_one_scheme_is_an_error_whatever_the_order(order):
    plugins = [ExtraStorePlugin("clash"), ExtraStorePlugin("clash")]
    pm = create_plugin_manager(autoload=False, plugins=[plugins[i] for i in order])
    registry = BackendRegistry.from_plugin_manager(pm)
    with pytest.raises(DuplicateBackendError, match="clash"):
        registry.datastore("clash")


NO_MANAGER_AT_IMPORT = """
import importlib, pkgutil, sys
import pluggy

made = []
original = pluggy.PluginManager.__init__

def counting(self, *args, **kwargs):
    made.append(type(self).__name__)
    original(self, *args, **kwargs)

pluggy.PluginManager.__init__ = counting
import taskshed
import taskshed_redis, taskshed_sqlalchemy
for info in pkgutil.walk_packages(taskshed.__path__, "taskshed."):
    if not info.name.endswith("__main__"):  # that one runs the CLI
        importlib.import_module(info.name)
from taskshed import registry
assert registry._default is None, "a registry was built at import"
assert made == [], made
registry.default_registry()  # the first use builds it: the check above can see one
assert made and registry._default is not None, made
print("ok", len(sys.modules))
"""


def test_no_plugin_manager_is_created_at_import_time():
    """Importing every taskshed module (in a fresh interpreter) builds no plugin manager."""
    result = subprocess.run(
        [sys.executable, "-c", NO_MANAGER_AT_IMPORT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok"), result.stdout


def test_taskshed_plugins_env_registers_modules_even_without_autoload(tmp_path, monkeypatch):
    (tmp_path / "envplugin_mod.py").write_text(
        "from taskshed import hookimpl\n"
        "from taskshed.backends import DataStoreBackend\n"
        "from taskshed.datastores import InMemoryDataStore\n"
        "@hookimpl\n"
        "def taskshed_datastore_backends():\n"
        "    return [DataStoreBackend(('fromenv',), lambda url, ser: InMemoryDataStore(serializer=ser))]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TASKSHED_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("TASKSHED_PLUGINS", "envplugin_mod")
    registry = BackendRegistry.from_plugin_manager(create_plugin_manager())
    assert registry.datastore("fromenv")
