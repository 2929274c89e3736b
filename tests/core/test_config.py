import pytest

from taskshed.config import load_settings, open_datastore
from taskshed.datastores import InMemoryDataStore
from taskshed.errors import ConfigurationError, UnknownBackendError
from taskshed.plugins import create_plugin_manager
from taskshed.registry import BackendRegistry
from taskshed.serializers import RichJSONSerializer
from taskshed.urls import URL


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TASKSHED_DATASTORE", raising=False)
    monkeypatch.delenv("TASKSHED_SERIALIZER", raising=False)
    return tmp_path


def write_pyproject(folder, body):
    (folder / "pyproject.toml").write_text(f"[tool.taskshed]\n{body}\n")


def test_pyproject_table_is_read_from_the_nearest_project(project, monkeypatch):
    write_pyproject(project, 'datastore = "memory://"\nserializer = "json-rich"')
    sub = project / "pkg" / "inner"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    settings = load_settings()
    assert settings.datastore == URL.parse("memory://")
    assert settings.serializer == "json-rich"
    assert "pyproject" in settings.serializer_source


def test_environment_beats_pyproject(project, monkeypatch):
    write_pyproject(project, 'datastore = "memory://"\nserializer = "json"')
    monkeypatch.setenv("TASKSHED_SERIALIZER", "json-rich")
    monkeypatch.setenv("TASKSHED_DATASTORE", "redis://envhost:6379/0")
    settings = load_settings()
    assert settings.serializer == "json-rich"
    assert settings.datastore.host == "envhost"


def test_explicit_arguments_beat_everything(project, monkeypatch):
    write_pyproject(project, 'serializer = "json-rich"')
    monkeypatch.setenv("TASKSHED_SERIALIZER", "json-rich")
    settings = load_settings(datastore="memory://", serializer="json")
    assert settings.serializer == "json" and settings.serializer_source == "argument"


def test_unknown_pyproject_key_is_an_error(project):
    write_pyproject(project, 'datastor = "memory://"')
    with pytest.raises(ConfigurationError, match="datastor"):
        load_settings()


def test_open_datastore_builds_the_configured_store(project):
    write_pyproject(project, 'datastore = "memory://"\nserializer = "json-rich"')
    store = open_datastore()
    assert isinstance(store, InMemoryDataStore)
    assert isinstance(store.serializer, RichJSONSerializer)


def test_unknown_scheme_lists_known_ones_and_the_extra(project):
    with pytest.raises(UnknownBackendError) as info:
        open_datastore("nosuchstore://x")
    assert "memory" in str(info.value)
    bare = BackendRegistry.from_plugin_manager(create_plugin_manager(autoload=False))
    with pytest.raises(UnknownBackendError, match=r"taskshed\[redis\]"):
        open_datastore("redis://localhost", registry=bare)


def test_unknown_serializer_lists_known_ones(project):
    with pytest.raises(UnknownBackendError, match="json-rich"):
        open_datastore("memory://", serializer="pickle")


def test_url_never_shows_its_password():
    url = URL.parse("mysql+asyncmy://app:s3cr%40t@db.example:3306/tasks?charset=utf8mb4")
    assert url.password == "s3cr@t"
    for text in (str(url), repr(url), url.render()):
        assert "s3cr" not in text
    assert "s3cr%40t" in url.render(hide_password=False)
    assert url.database == "tasks" and url.port == 3306 and url.query == {"charset": "utf8mb4"}


def test_bad_url_error_does_not_echo_the_password():
    with pytest.raises(ConfigurationError) as info:
        URL.parse("redis://user:hunter2@host:notaport/0")
    assert "hunter2" not in str(info.value)


def test_a_nested_pyproject_without_the_table_does_not_hide_the_projects(project, monkeypatch):
    write_pyproject(project, 'datastore = "memory://"\nserializer = "json-rich"')
    package = project / "packages" / "api"
    package.mkdir(parents=True)
    (package / "pyproject.toml").write_text('[project]\nname = "api"\n')
    monkeypatch.chdir(package)
    settings = load_settings()
    assert settings.serializer == "json-rich"
    assert str(project / "pyproject.toml") in settings.serializer_source


def test_a_non_string_value_names_the_file(project):
    write_pyproject(project, "datastore = 5")
    with pytest.raises(ConfigurationError, match=r"pyproject\.toml"):
        load_settings()


@pytest.mark.parametrize("scheme", ["mysql+aiomysql", "postgresql+psycopg"])
def test_an_unsupported_driver_of_a_known_database_says_so(project, scheme):
    registry = BackendRegistry.from_plugin_manager(create_plugin_manager(autoload=False))
    registry.datastores.setdefault(scheme.split("+")[0], [])
    registry.datastores[scheme.split("+")[0]].append(("test", None))
    with pytest.raises(UnknownBackendError, match="driver is not supported"):
        open_datastore(f"{scheme}://host/db", registry=registry)


def test_the_notifier_comes_from_argument_environment_pyproject_or_the_store(tmp_path, monkeypatch):
    from taskshed.config import configured_notifier_url, resolve_notifier
    from taskshed.datastores import InMemoryDataStore
    from taskshed.errors import UnknownBackendError
    from taskshed.notifiers import LocalNotifier

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TASKSHED_NOTIFIER", raising=False)
    assert configured_notifier_url() == (None, "default")
    assert isinstance(resolve_notifier("store", InMemoryDataStore()), LocalNotifier)
    assert resolve_notifier(None, InMemoryDataStore()) is None
    (tmp_path / "pyproject.toml").write_text('[tool.taskshed]\nnotifier = "nosuch://x"\n')
    url, source = configured_notifier_url()
    assert (url.scheme if url else None, source.endswith("[tool.taskshed]")) == ("nosuch", True)
    monkeypatch.setenv("TASKSHED_NOTIFIER", "other://y")
    assert configured_notifier_url()[1] == "environment TASKSHED_NOTIFIER"
    assert configured_notifier_url("third://z")[1] == "argument"
    with pytest.raises(UnknownBackendError):
        resolve_notifier("store", InMemoryDataStore())
