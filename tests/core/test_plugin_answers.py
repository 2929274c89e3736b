"""The host checks every plugin's answers: a broken plugin is named, skipped, and harms no other.

Each case is a plugin whose hook answers something the host can't use. The
registry must report it in one line naming the plugin, keep every other
backend working, and raise in strict mode.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from taskshed import hookimpl, open_datastore
from taskshed.backends import DataStoreBackend, NotifierBackend, SerializerBackend
from taskshed.datastores import InMemoryDataStore
from taskshed.errors import ConfigurationError, PluginLoadError, UnknownBackendError
from taskshed.notifiers import LocalNotifier
from taskshed.plugins import create_plugin_manager
from taskshed.registry import BackendRegistry


def memory_factory(url: Any, serializer: Any) -> InMemoryDataStore:
    return InMemoryDataStore(serializer=serializer)


class Plugin:
    """A plugin object whose datastore hook returns whatever ``answer()`` gives."""

    def __init__(self, answer: Any, hook: str = "taskshed_datastore_backends") -> None:
        def implementation() -> Any:
            return answer()

        setattr(self, hook, hookimpl(specname=hook)(implementation))


def _raise() -> Any:
    raise RuntimeError("the plugin's hook blew up\nwith a second line")


#: name -> (hook, answer, a phrase the one-line error must hold)
BAD_ANSWERS: dict[str, tuple[str, Any, str]] = {
    "a single backend": (
        "taskshed_datastore_backends",
        lambda: DataStoreBackend(("single",), memory_factory),
        "not a list",
    ),
    "a list of dicts": (
        "taskshed_datastore_backends",
        lambda: [{"schemes": ("d",), "factory": memory_factory}],
        "item 1 is a dict",
    ),
    "a list of strings": (
        "taskshed_datastore_backends",
        lambda: ["memory2"],
        "item 1 is the string",
    ),
    "a dict": ("taskshed_datastore_backends", lambda: {"x": 1}, "returned a dict"),
    "a string": ("taskshed_datastore_backends", lambda: "memory", "returned the string"),
    "a raising hook": (
        "taskshed_datastore_backends",
        _raise,
        "RuntimeError: the plugin's hook blew up",
    ),
    "schemes as one string": (
        "taskshed_datastore_backends",
        lambda: [DataStoreBackend(schemes="wrongtype", factory=memory_factory)],  # type: ignore[arg-type]
        "not the string 'wrongtype'",
    ),
    "a scheme with an underscore": (
        "taskshed_datastore_backends",
        lambda: [DataStoreBackend(("wrong_type",), memory_factory)],
        "'wrong_type' is not a URL scheme",
    ),
    "a scheme with ://": (
        "taskshed_datastore_backends",
        lambda: [DataStoreBackend(("x://",), memory_factory)],
        "without '://'",
    ),
    "an empty scheme": (
        "taskshed_datastore_backends",
        lambda: [DataStoreBackend(("",), memory_factory)],
        "is not a URL scheme",
    ),
    "no schemes": (
        "taskshed_datastore_backends",
        lambda: [DataStoreBackend((), memory_factory)],
        "at least one",
    ),
    "a factory that is not callable": (
        "taskshed_datastore_backends",
        lambda: [DataStoreBackend(("nc",), "module:function")],  # type: ignore[arg-type]
        "factory must be callable",
    ),
    "examples as one string": (
        "taskshed_datastore_backends",
        lambda: [DataStoreBackend(("ex",), memory_factory, examples="ex://")],  # type: ignore[arg-type]
        "examples must be a tuple",
    ),
    "one scheme twice in a backend": (
        "taskshed_datastore_backends",
        lambda: [DataStoreBackend(("twice", "twice"), memory_factory)],
        "'twice' twice",
    ),
    "one scheme in two of its backends": (
        "taskshed_datastore_backends",
        lambda: [
            DataStoreBackend(("dup",), memory_factory),
            DataStoreBackend(("dup", "other"), memory_factory),
        ],
        "dup:// twice",
    ),
    "notifier schemes as one string": (
        "taskshed_notifier_backends",
        lambda: [NotifierBackend(schemes="pubsub", factory=LocalNotifier)],  # type: ignore[arg-type]
        "not the string 'pubsub'",
    ),
    "a notifier answer of one backend": (
        "taskshed_notifier_backends",
        lambda: NotifierBackend(("pubsub",), LocalNotifier),
        "returned one NotifierBackend, not a list",
    ),
    "a datastore backend from the notifier hook": (
        "taskshed_notifier_backends",
        lambda: [DataStoreBackend(("pubsub",), memory_factory)],
        "item 1 is a DataStoreBackend, not a NotifierBackend",
    ),
    "a serializer list of strings": (
        "taskshed_serializers",
        lambda: ["json"],
        "item 1 is the string",
    ),
    "a serializer name with a space": (
        "taskshed_serializers",
        lambda: [SerializerBackend("my json", dict)],  # type: ignore[arg-type]
        "serializer name 'my json'",
    ),
    "two serializers with one name": (
        "taskshed_serializers",
        lambda: [SerializerBackend("same", dict), SerializerBackend("same", dict)],  # type: ignore[arg-type]
        "same twice",
    ),
}


def registry_with(plugin: object, name: str = "bad-plugin", **kwargs: Any) -> BackendRegistry:
    pm = create_plugin_manager(autoload=False, strict=False)
    pm.register(plugin, name=name)
    return BackendRegistry.from_plugin_manager(pm, **kwargs)


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_a_bad_answer_is_one_line_naming_the_plugin_and_everything_else_works(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    hook, answer, phrase = BAD_ANSWERS[case]
    registry = registry_with(Plugin(answer, hook))
    [problem] = registry.problems
    text = str(problem)
    assert problem.plugin == "bad-plugin" and problem.hook == hook
    assert text.startswith(f"taskshed plugin 'bad-plugin': {hook}() "), text
    assert "\n" not in text, text
    assert phrase in text, text
    assert "bad-plugin" in caplog.text  # logged once, under its name
    # The broken plugin's answer is skipped whole; everything else still works.
    assert not any(
        provider.plugin == "bad-plugin"
        for table in registry.tables.values()
        for providers in table.values()
        for provider in providers
    )
    assert isinstance(open_datastore("memory://", registry=registry), InMemoryDataStore)
    assert registry.serializer("json-rich").factory().name == "json-rich"


@pytest.mark.parametrize("case", ["a single backend", "a raising hook", "schemes as one string"])
def test_strict_mode_turns_a_bad_answer_into_an_error(case: str) -> None:
    hook, answer, _ = BAD_ANSWERS[case]
    with pytest.raises(PluginLoadError, match="plugin 'bad-plugin'") as caught:
        registry_with(Plugin(answer, hook), strict=True)
    assert "TASKSHED_STRICT_PLUGINS" in str(caught.value)


def test_strict_mode_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKSHED_STRICT_PLUGINS", "1")
    pm = create_plugin_manager(autoload=False, plugins=[Plugin(_raise)])
    with pytest.raises(PluginLoadError):
        BackendRegistry.from_plugin_manager(pm)


def test_a_good_plugin_next_to_a_bad_one_is_kept() -> None:
    pm = create_plugin_manager(autoload=False, strict=False)
    pm.register(Plugin(_raise), name="bad")
    pm.register(Plugin(lambda: [DataStoreBackend(("good",), memory_factory)]), name="good")
    registry = BackendRegistry.from_plugin_manager(pm)
    assert [p.plugin for p in registry.problems] == ["bad"]
    assert isinstance(open_datastore("good://", registry=registry), InMemoryDataStore)


def test_none_and_empty_answers_are_fine() -> None:
    for answer in (lambda: None, lambda: [], lambda: ()):
        assert registry_with(Plugin(answer)).problems == []


def test_lists_tuples_and_generators_are_accepted_and_schemes_lowercased() -> None:
    def generator() -> Any:
        yield DataStoreBackend(["GenStore"], memory_factory)  # type: ignore[arg-type]

    registry = registry_with(Plugin(generator))
    assert registry.problems == []
    assert isinstance(open_datastore("genstore://", registry=registry), InMemoryDataStore)


# ---------------------------------------------------------------------- factories


def test_a_factory_missing_its_driver_is_a_configuration_error_naming_plugin_scheme_and_hint() -> (
    None
):
    def needs_driver(url: Any, serializer: Any) -> Any:
        import taskshed_no_such_driver_xyz  # noqa: F401

    registry = registry_with(Plugin(lambda: [DataStoreBackend(("nodriver",), needs_driver)]), "drv")
    with pytest.raises(ConfigurationError) as caught:
        open_datastore("nodriver://host/db", registry=registry)
    message = str(caught.value)
    assert "nodriver://" in message and "'drv'" in message
    assert "No module named 'taskshed_no_such_driver_xyz'" in message
    assert "pip install taskshed_no_such_driver_xyz" in message
    assert "\n" not in message


def test_required_modules_are_checked_before_the_factory_runs() -> None:
    calls: list[str] = []

    def factory(url: Any, serializer: Any) -> Any:
        calls.append("called")
        return InMemoryDataStore(serializer=serializer)

    backend = DataStoreBackend(("req",), factory, requires=("taskshed_no_such_driver_xyz",))
    registry = registry_with(Plugin(lambda: [backend]), "req-plugin")
    assert registry.missing_modules(backend) == ["taskshed_no_such_driver_xyz"]
    with pytest.raises(ConfigurationError, match="needs the module 'taskshed_no_such_driver_xyz'"):
        open_datastore("req://", registry=registry)
    assert calls == []


def test_our_own_schemes_name_the_taskshed_extra() -> None:
    def needs_asyncmy(url: Any, serializer: Any) -> Any:
        raise ModuleNotFoundError("No module named 'asyncmy'", name="asyncmy")

    registry = registry_with(Plugin(lambda: [DataStoreBackend(("mysql",), needs_asyncmy)]), "sql")
    with pytest.raises(ConfigurationError, match=r"pip install 'taskshed\[mysql\]'"):
        open_datastore("mysql://h/db", registry=registry)


def test_a_third_party_driver_hint_names_the_plugins_extra(tmp_path, monkeypatch) -> None:
    """The distribution's metadata says which of its extras brings the missing module."""
    dist = tmp_path / "taskshed_fancy-2.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: taskshed-fancy\nVersion: 2.0\n"
        "Provides-Extra: fast\nRequires-Dist: fancy-driver>=1; extra == 'fast'\n"
    )
    (dist / "entry_points.txt").write_text("[taskshed]\nfancy = fancy_plugin_mod\n")
    (tmp_path / "fancy_plugin_mod.py").write_text(
        textwrap.dedent(
            """
            from taskshed import hookimpl
            from taskshed.backends import DataStoreBackend

            def open_fancy(url, serializer):
                import fancy_driver

            @hookimpl
            def taskshed_datastore_backends():
                return [DataStoreBackend(("fancy",), open_fancy)]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = BackendRegistry.from_plugin_manager(create_plugin_manager(strict=False))
    with pytest.raises(ConfigurationError) as caught:
        open_datastore("fancy://", registry=registry)
    assert "plugin 'fancy'" in str(caught.value)
    assert "pip install 'taskshed-fancy[fast]'" in str(caught.value)


def test_a_factorys_own_taskshed_error_passes_through_and_others_are_wrapped() -> None:
    def refuses(url: Any, serializer: Any) -> Any:
        raise ConfigurationError("the plugin's own words")

    def buggy(url: Any, serializer: Any) -> Any:
        raise KeyError("port")

    registry = registry_with(
        Plugin(
            lambda: [DataStoreBackend(("refuses",), refuses), DataStoreBackend(("buggy",), buggy)]
        ),
        "own",
    )
    with pytest.raises(ConfigurationError, match=r"^the plugin's own words$"):
        open_datastore("refuses://", registry=registry)
    with pytest.raises(ConfigurationError, match=r"buggy:// datastore of plugin 'own'.*KeyError"):
        open_datastore("buggy://", registry=registry)


def test_a_serializer_factory_is_guarded_too() -> None:
    def broken() -> Any:
        raise ImportError("No module named 'msgpack'", name="msgpack")

    registry = registry_with(
        Plugin(lambda: [SerializerBackend("msgpack", broken)], "taskshed_serializers"), "mp"
    )
    with pytest.raises(ConfigurationError, match="msgpack serializer of plugin 'mp'"):
        open_datastore("memory://", serializer="msgpack", registry=registry)


# ---------------------------------------------------------------------- errors and listings


def test_an_unknown_scheme_shows_descriptions_and_examples() -> None:
    registry = BackendRegistry.from_plugin_manager(create_plugin_manager(autoload=False))
    with pytest.raises(UnknownBackendError) as caught:
        open_datastore("nosuch://x", registry=registry)
    first, *details = str(caught.value).splitlines()
    # Other tests in this process may have registered plugins of their own: only
    # the built-in store is certain to be listed.
    assert first.startswith("unknown datastore URL scheme 'nosuch'; known: "), first
    assert "memory" in first.partition("known: ")[2].rstrip(".").split(", "), first
    assert any(
        "memory://" in line
        and "In this process's memory" in line
        and "e.g. memory://" in line
        and "plugin 'memory'" in line
        for line in details
    ), details


def test_clashes_are_listed_with_both_plugins() -> None:
    pm = create_plugin_manager(autoload=False)
    for name in ("first", "second"):
        pm.register(Plugin(lambda: [DataStoreBackend(("clash",), memory_factory)]), name=name)
    registry = BackendRegistry.from_plugin_manager(pm)
    assert registry.problems == []
    assert registry.clashes(registry_kind("datastore")) == {"clash": ["first", "second"]}


def registry_kind(name: str) -> Any:
    from taskshed.registry import KINDS

    return next(kind for kind in KINDS if kind.name == name)


def test_a_raising_command_hook_is_reported_and_the_other_commands_stay() -> None:
    import argparse

    class BadCommands:
        @hookimpl
        def taskshed_add_commands(self, subparsers: Any) -> None:
            raise RuntimeError("no commands today")

    registry = registry_with(BadCommands(), "cmds")
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    subparsers.add_parser("kept")
    registry.add_commands(subparsers)
    [problem] = registry.problems
    assert str(problem) == (
        "taskshed plugin 'cmds': taskshed_add_commands() raised RuntimeError: no commands today"
    )
    assert "kept" in subparsers.choices


# ---------------------------------------------------------------------- notifiers


def test_notifiers_are_filed_by_scheme_and_their_factory_guarded() -> None:
    def needs_driver(url: Any) -> Any:
        raise ModuleNotFoundError("No module named 'nats'", name="nats")

    registry = registry_with(
        Plugin(
            lambda: [
                NotifierBackend(("local",), lambda url: LocalNotifier(), "In this process."),
                NotifierBackend(("nats",), needs_driver, examples=("nats://host:4222",)),
            ],
            "taskshed_notifier_backends",
        ),
        "notifiers",
    )
    assert registry.problems == []
    assert isinstance(registry.notifier("LOCAL").factory(None), LocalNotifier)
    with pytest.raises(
        ConfigurationError, match=r"nats:// notifier of plugin 'notifiers'.*pip install nats"
    ):
        registry.notifier("nats").factory(None)
    with pytest.raises(UnknownBackendError, match=r"unknown notifier URL scheme 'amqp'") as caught:
        registry.notifier("amqp")
    assert "nats://  e.g. nats://host:4222  (plugin 'notifiers')" in str(caught.value)
