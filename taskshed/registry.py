"""Backends by name: datastores by URL scheme, serializers by name, chosen by configuration."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taskshed.backends import DataStoreBackend, SerializerBackend
from taskshed.errors import DuplicateBackendError, UnknownBackendError
from taskshed.plugins import (
    DISABLE_AUTOLOAD_ENV,
    TaskshedPluginManager,
    create_plugin_manager,
    env_flag,
)

log = logging.getLogger(__name__)

#: Schemes our own plugins serve, and the extra that installs each; used to
#: tell a user what to install when a scheme is unknown.
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


@dataclass
class BackendRegistry:
    """Every backend the loaded plugins provide, each tagged with its plugin's name."""

    plugin_manager: TaskshedPluginManager
    datastores: dict[str, list[tuple[str, DataStoreBackend]]] = field(default_factory=dict)
    serializers: dict[str, list[tuple[str, SerializerBackend]]] = field(default_factory=dict)

    @classmethod
    def from_plugin_manager(cls, pm: TaskshedPluginManager) -> BackendRegistry:
        registry = cls(pm)
        # Each implementation is called on its own so every answer is tied to
        # the plugin that gave it; the order of calls decides nothing.
        for impl in pm.hook.taskshed_datastore_backends.get_hookimpls():
            for backend in _call(impl) or ():
                for scheme in backend.schemes:
                    registry.datastores.setdefault(scheme.lower(), []).append(
                        (impl.plugin_name, backend)
                    )
        for impl in pm.hook.taskshed_serializers.get_hookimpls():
            for backend in _call(impl) or ():
                registry.serializers.setdefault(backend.name, []).append(
                    (impl.plugin_name, backend)
                )
        return registry

    def datastore(self, scheme: str) -> DataStoreBackend:
        """The backend serving ``scheme``; a clear error if none or several do."""
        return _one(
            self.datastores,
            scheme.lower(),
            what="datastore URL scheme",
            hint=_install_hint(scheme.lower(), self.datastores),
        )

    def serializer(self, name: str) -> SerializerBackend:
        return _one(self.serializers, name, what="serializer", hint="")

    def schemes_by_plugin(self) -> dict[str, list[str]]:
        return _names_by_plugin(self.datastores)

    def serializers_by_plugin(self) -> dict[str, list[str]]:
        return _names_by_plugin(self.serializers)


def _call(impl: Any) -> list[Any]:
    return list(impl.function() or ())


def _one(table: dict[str, list[tuple[str, Any]]], name: str, *, what: str, hint: str) -> Any:
    providers = table.get(name)
    if not providers:
        known = ", ".join(sorted(table)) or "none"
        raise UnknownBackendError(f"unknown {what} {name!r}; known: {known}.{hint}")
    if len(providers) > 1:
        plugins = ", ".join(sorted(plugin for plugin, _ in providers))
        raise DuplicateBackendError(
            f"{what} {name!r} is provided by several plugins ({plugins}); "
            "uninstall all but one (or, with TASKSHED_DISABLE_PLUGIN_AUTOLOAD=1, register "
            "only the one you want)."
        )
    return providers[0][1]


def _names_by_plugin(table: dict[str, list[tuple[str, Any]]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, providers in sorted(table.items()):
        for plugin, _ in providers:
            result.setdefault(plugin, []).append(name)
    return result


def _install_hint(scheme: str, known: Mapping[str, object]) -> str:
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
