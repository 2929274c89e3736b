"""Backends by name: datastores and notifiers by URL scheme, serializers by name.

Every kind of backend is one row of :data:`KINDS`: the hook that lists them,
the class each answer must be, and what keys it (URL schemes, a name). The
host asks each plugin on its own and checks its answer; a plugin whose hook
raises or answers something else is reported under its name and skipped, and
everything the other plugins provide keeps working (``TASKSHED_STRICT_PLUGINS=1``
makes it an error instead).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from typing import Any, NamedTuple

from taskshed.backends import DataStoreBackend, NotifierBackend, SerializerBackend
from taskshed.errors import (
    ConfigurationError,
    DuplicateBackendError,
    PluginLoadError,
    TaskshedError,
    UnknownBackendError,
)
from taskshed.plugins import (
    DISABLE_AUTOLOAD_ENV,
    STRICT_ENV,
    TaskshedPluginManager,
    create_plugin_manager,
    env_flag,
)

log = logging.getLogger(__name__)

#: Schemes our own plugins serve, and the extra of ``taskshed`` that installs each;
#: used to tell a user what to install when a scheme is unknown or a driver missing.
KNOWN_EXTRAS: dict[str, str] = {
    "mysql+asyncmy": "mysql",
    "mariadb+asyncmy": "mysql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite+aiosqlite": "sqlite",
    "sqlite": "sqlite",
    "postgresql+asyncpg": "postgresql",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
}


@dataclass(frozen=True)
class BackendKind:
    """One kind of backend: the hook that lists them and how each is filed."""

    #: Singular, for messages: ``datastore``.
    name: str
    #: The hook every plugin may implement, returning a list of ``backend_type``.
    hook: str
    backend_type: type[Any]
    #: The keys one backend is filed under (its URL schemes, or its name).
    keys: Callable[[Any], tuple[str, ...]]
    #: What a key is, for messages: ``datastore URL scheme``.
    label: str
    #: Keys are URL schemes (shown as ``memory://``).
    schemes: bool = False

    @property
    def plural(self) -> str:
        return self.name + "s"

    def show(self, key: str) -> str:
        return f"{key}://" if self.schemes else key


DATASTORES = BackendKind(
    "datastore",
    "taskshed_datastore_backends",
    DataStoreBackend,
    lambda backend: backend.schemes,
    "datastore URL scheme",
    schemes=True,
)
SERIALIZERS = BackendKind(
    "serializer",
    "taskshed_serializers",
    SerializerBackend,
    lambda backend: (backend.name,),
    "serializer",
)
NOTIFIERS = BackendKind(
    "notifier",
    "taskshed_notifier_backends",
    NotifierBackend,
    lambda backend: backend.schemes,
    "notifier URL scheme",
    schemes=True,
)
#: Every kind the host collects. A new kind is a row here and an accessor below.
KINDS: tuple[BackendKind, ...] = (DATASTORES, SERIALIZERS, NOTIFIERS)
#: Hooks that are not collected into tables but still called one plugin at a time.
COMMANDS_HOOK = "taskshed_add_commands"


class Provider(NamedTuple):
    """A backend and the plugin that provides it."""

    plugin: str
    backend: Any


@dataclass(frozen=True)
class PluginProblem:
    """A plugin whose hook raised or answered something the host can't use."""

    plugin: str
    hook: str
    message: str

    def __str__(self) -> str:
        return f"taskshed plugin {self.plugin!r}: {self.hook}() {self.message}"


class _BadAnswer(Exception):
    """A hook's answer doesn't fit; the message completes ``"<hook>() "``."""


@dataclass
class BackendRegistry:
    """Every backend the loaded plugins provide, each tagged with its plugin's name."""

    plugin_manager: TaskshedPluginManager
    tables: dict[str, dict[str, list[Provider]]] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)

    @classmethod
    def from_plugin_manager(
        cls, pm: TaskshedPluginManager, *, strict: bool | None = None
    ) -> BackendRegistry:
        """Ask every plugin for its backends, one plugin at a time.

        :param strict: raise :class:`~taskshed.errors.PluginLoadError` for the
            first plugin whose answer is unusable (default: the plugin
            manager's ``strict``, i.e. ``TASKSHED_STRICT_PLUGINS=1``);
            otherwise log it, keep it in :attr:`problems` and skip that answer.
        """
        registry = cls(pm)
        for kind in KINDS:
            registry._collect(kind)
        if strict is None:
            strict = getattr(pm, "strict", False)
        if strict and registry.problems:
            raise PluginLoadError(_strict_message(registry.problems))
        return registry

    # ------------------------------------------------------------------ collecting

    def _collect(self, kind: BackendKind) -> None:
        table = self.tables.setdefault(kind.name, {})
        caller = getattr(self.plugin_manager.hook, kind.hook, None)
        if caller is None:
            return
        # Each implementation is called on its own so every answer is tied to
        # the plugin that gave it; the order of calls decides nothing.
        for impl in caller.get_hookimpls():
            try:
                if impl.hookwrapper or impl.wrapper:
                    raise _BadAnswer("is a hook wrapper; taskshed asks each plugin on its own")
                backends = _check_answer(kind, impl.function())
            except _BadAnswer as exc:
                self._problem(impl.plugin_name, kind.hook, str(exc))
                continue
            except Exception as exc:
                self._problem(impl.plugin_name, kind.hook, f"raised {_one_line(exc)}")
                continue
            for backend in backends:
                for key in kind.keys(backend):
                    table.setdefault(key, []).append(Provider(impl.plugin_name, backend))

    def _problem(self, plugin: str, hook: str, message: str) -> None:
        problem = PluginProblem(plugin, hook, message)
        self.problems.append(problem)
        log.warning("%s; skipped", problem)

    def add_commands(self, subparsers: argparse._SubParsersAction) -> None:
        """Let every plugin add its sub-commands; one that raises is reported and skipped."""
        caller = getattr(self.plugin_manager.hook, COMMANDS_HOOK)
        for impl in caller.get_hookimpls():
            try:
                impl.function(subparsers=subparsers)
            except Exception as exc:
                self._problem(impl.plugin_name, COMMANDS_HOOK, f"raised {_one_line(exc)}")

    # ------------------------------------------------------------------ lookups

    @property
    def datastores(self) -> dict[str, list[Provider]]:
        return self.tables.setdefault(DATASTORES.name, {})

    @property
    def serializers(self) -> dict[str, list[Provider]]:
        return self.tables.setdefault(SERIALIZERS.name, {})

    @property
    def notifiers(self) -> dict[str, list[Provider]]:
        return self.tables.setdefault(NOTIFIERS.name, {})

    def datastore(self, scheme: str) -> DataStoreBackend:
        """The backend serving ``scheme``; a clear error if none or several do.

        Its factory reports a missing driver, or any other failure to build the
        store, as a :class:`~taskshed.errors.ConfigurationError` naming the
        plugin, the scheme and what to install.
        """
        backend: DataStoreBackend = self.get(DATASTORES, scheme.lower())
        return backend

    def serializer(self, name: str) -> SerializerBackend:
        """The backend of serializer ``name``, its factory guarded like a datastore's."""
        backend: SerializerBackend = self.get(SERIALIZERS, name)
        return backend

    def notifier(self, scheme: str) -> NotifierBackend:
        """The backend serving notifier URL ``scheme``, its factory guarded like a datastore's."""
        backend: NotifierBackend = self.get(NOTIFIERS, scheme.lower())
        return backend

    def get(self, kind: BackendKind, key: str) -> Any:
        """The one backend of ``kind`` filed under ``key``, with a guarded factory."""
        table = self.tables.get(kind.name, {})
        providers = table.get(key)
        if not providers:
            raise UnknownBackendError(self._unknown(kind, key))
        if len(providers) > 1:
            plugins = ", ".join(sorted(provider.plugin for provider in providers))
            raise DuplicateBackendError(
                f"{kind.label} {key!r} is provided by several plugins ({plugins}); "
                f"uninstall all but one (or, with {DISABLE_AUTOLOAD_ENV}=1, register "
                "only the one you want)."
            )
        plugin, backend = providers[0]
        return self._guarded(kind, key, plugin, backend)

    def missing_modules(self, backend: Any) -> list[str]:
        """The modules a backend ``requires`` that are not installed (nothing is imported)."""
        return [module for module in getattr(backend, "requires", ()) if not _installed(module)]

    def install_hint(self, plugin: str, key: str, module: str | None) -> str:
        """What to run to get ``module`` (a driver) for ``key`` of ``plugin``: ``pip install ...``."""
        dialect = key.partition("+")[0]
        extra = KNOWN_EXTRAS.get(key) or KNOWN_EXTRAS.get(dialect)
        if extra is not None:
            return f"pip install 'taskshed[{extra}]'"
        dist = self._distribution_of(plugin)
        if module is None:
            return f"reinstall {dist}" if dist else ""
        top = module.split(".")[0]
        if dist:
            extra = _extra_providing(dist, top)
            if extra:
                return f"pip install '{dist}[{extra}]'"
        return f"pip install {top} (or the package that provides the module {top!r})"

    def _guarded(self, kind: BackendKind, key: str, plugin: str, backend: Any) -> Any:
        if not isinstance(backend, kind.backend_type):
            return backend  # filed by hand (tests); nothing to guard
        build = backend.factory
        what = f"the {kind.show(key)} {kind.name} of plugin {plugin!r}"

        def factory(*args: Any, **kwargs: Any) -> Any:
            missing = self.missing_modules(backend)
            if missing:
                hint = self.install_hint(plugin, key, missing[0])
                raise ConfigurationError(
                    f"{what} needs the module {missing[0]!r}, which is not installed: {hint}"
                )
            try:
                return build(*args, **kwargs)
            except TaskshedError:
                raise  # the plugin's own error says what is wrong
            except ImportError as exc:
                hint = self.install_hint(plugin, key, exc.name)
                raise ConfigurationError(
                    f"{what} can't be opened: {_one_line(exc)}" + (f"; {hint}" if hint else "")
                ) from exc
            except Exception as exc:
                raise ConfigurationError(f"{what} can't be opened: {_one_line(exc)}") from exc

        return dataclasses.replace(backend, factory=factory)

    # ------------------------------------------------------------------ for listings

    def keys_by_plugin(self, kind: BackendKind) -> dict[str, list[str]]:
        """Each plugin's keys of ``kind`` (schemes, names), sorted."""
        result: dict[str, list[str]] = {}
        for key, providers in sorted(self.tables.get(kind.name, {}).items()):
            for provider in providers:
                result.setdefault(provider.plugin, []).append(key)
        return result

    def backends_of(self, plugin: str, kind: BackendKind) -> list[Any]:
        """The backends ``plugin`` provides of ``kind``, each once, in the order given."""
        seen: dict[int, Any] = {}
        for providers in self.tables.get(kind.name, {}).values():
            for provider in providers:
                if provider.plugin == plugin:
                    seen.setdefault(id(provider.backend), provider.backend)
        return list(seen.values())

    def clashes(self, kind: BackendKind) -> dict[str, list[str]]:
        """Keys that several plugins claim, with those plugins' names."""
        return {
            key: sorted(provider.plugin for provider in providers)
            for key, providers in sorted(self.tables.get(kind.name, {}).items())
            if len(providers) > 1
        }

    def problems_of(self, plugin: str) -> list[PluginProblem]:
        return [problem for problem in self.problems if problem.plugin == plugin]

    def schemes_by_plugin(self) -> dict[str, list[str]]:
        return self.keys_by_plugin(DATASTORES)

    def serializers_by_plugin(self) -> dict[str, list[str]]:
        return self.keys_by_plugin(SERIALIZERS)

    # ------------------------------------------------------------------ messages

    def _unknown(self, kind: BackendKind, key: str) -> str:
        table = self.tables.get(kind.name, {})
        known = ", ".join(sorted(table)) or "none"
        hint = _unknown_hint(key, table) if kind is DATASTORES else ""
        lines = [f"unknown {kind.label} {key!r}; known: {known}.{hint}"]
        described: set[int] = set()
        for providers in table.values():
            for plugin, backend in providers:
                if backend is None or id(backend) in described:
                    continue
                described.add(id(backend))
                lines.append("  " + describe(kind, plugin, backend))
        return "\n".join(lines)

    def _distribution_of(self, plugin: str) -> str | None:
        for info in self.plugin_manager.infos:
            if info.name == plugin:
                return info.distribution
        return None


def describe(kind: BackendKind, plugin: str, backend: Any) -> str:
    """One line about a backend: its keys, description and examples."""
    text = ", ".join(kind.show(key) for key in kind.keys(backend))
    if backend.description:
        text += f"  {backend.description}"
    examples = getattr(backend, "examples", ())
    if examples:
        text += f"  e.g. {', '.join(examples)}"
    return text + f"  (plugin {plugin!r})"


def _check_answer(kind: BackendKind, answer: object) -> list[Any]:
    """The backends in a hook's answer, or :class:`_BadAnswer` saying what is wrong."""
    wanted = kind.backend_type.__name__
    if answer is None:
        return []
    if isinstance(answer, kind.backend_type):
        raise _BadAnswer(f"returned one {wanted}, not a list of them (wrap it in a list)")
    if isinstance(answer, (str, bytes, Mapping)) or not isinstance(answer, Iterable):
        raise _BadAnswer(f"returned {_a(answer)}, not a list of {wanted} objects")
    backends = list(answer)
    seen: dict[str, int] = {}
    for number, backend in enumerate(backends, 1):
        if not isinstance(backend, kind.backend_type):
            raise _BadAnswer(
                f"returned a list whose item {number} is {_a(backend)}, not a {wanted}"
            )
        try:
            # The base class's own check, whatever a subclass did to it.
            kind.backend_type.__post_init__(backend)
        except (TypeError, ValueError) as exc:
            raise _BadAnswer(f"returned an invalid {wanted} (item {number}): {exc}") from None
        for key in kind.keys(backend):
            if key in seen:
                raise _BadAnswer(
                    f"returned {kind.show(key)} twice (items {seen[key]} and {number})"
                )
            seen[key] = number
    return backends


def _a(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return f"a {type(value).__name__}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _strict_message(problems: list[PluginProblem]) -> str:
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return f"{problems[0]}{more} ({STRICT_ENV}=1 makes this an error)"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _extra_providing(dist_name: str, module: str) -> str | None:
    """The extra of ``dist_name`` whose requirements include a package named like ``module``."""
    try:
        requirements = distribution(dist_name).requires or []
    except PackageNotFoundError:
        return None
    for requirement in requirements:
        name = _REQUIREMENT_NAME.match(requirement)
        extra = _EXTRA_MARKER.search(requirement)
        if name and extra and _normalized(name.group(1)) == _normalized(module):
            return extra.group(1)
    return None


def _unknown_hint(scheme: str, known: Mapping[str, object]) -> str:
    dialect, _, driver = scheme.partition("+")
    if driver and dialect in known:
        return (
            f" The {driver!r} driver is not supported for {dialect}; use one of the "
            f"schemes above (e.g. {dialect}://)."
        )
    extra = KNOWN_EXTRAS.get(scheme) or KNOWN_EXTRAS.get(dialect)
    if extra is None:
        return ""
    hint = f" Install it with: pip install 'taskshed[{extra}]'"
    if env_flag(DISABLE_AUTOLOAD_ENV):
        hint += (
            f" (plugin autoloading is off, {DISABLE_AUTOLOAD_ENV}=1: if it is installed, "
            "register it with taskshed.register_plugin())"
        )
    return hint


_default: BackendRegistry | None = None


def default_registry() -> BackendRegistry:
    """The registry of this process's plugins, built on first use and then reused."""
    global _default
    if _default is None:
        _default = BackendRegistry.from_plugin_manager(create_plugin_manager())
    return _default


def clear_default_registry() -> None:
    """Forget the cached registry (after registering plugins in code, say)."""
    global _default
    _default = None
