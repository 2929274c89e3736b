"""Finding plugins: the plugin-manager factory, entry points, and load errors."""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from taskshed import hookspecs
from taskshed.errors import PluginLoadError
from taskshed.markers import PROJECT_NAME

log = logging.getLogger(__name__)

#: The entry-point group plugins register under, in their ``pyproject.toml``.
ENTRY_POINT_GROUP = "taskshed"
STRICT_ENV = "TASKSHED_STRICT_PLUGINS"
DISABLE_AUTOLOAD_ENV = "TASKSHED_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated modules to import and register explicitly (works with autoload off,
#: so the command line can see plugins in a frozen or locked-down install).
PLUGINS_ENV = "TASKSHED_PLUGINS"

#: The core's own plugins. They are registered through the core's entry points
#: like any other plugin; this list is only used when autoloading is off.
BUILTIN_PLUGINS = {
    "memory": "taskshed.builtin.memory_plugin",
    "serializers": "taskshed.builtin.serializer_plugin",
}

_explicit: list[tuple[str, object]] = []


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as ``taskshed plugins`` shows it."""

    name: str
    distribution: str | None
    version: str | None
    source: str  # "entry point", "built-in" or "explicit"
    error: str | None = None


class TaskshedPluginManager(pluggy.PluginManager):
    """A pluggy ``PluginManager`` that also remembers where each plugin came from."""

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(PROJECT_NAME)
        self.infos: list[PluginInfo] = []
        #: A plugin whose hooks answer wrongly is an error, not a warning (see the registry).
        self.strict = strict

    @property
    def load_errors(self) -> list[PluginInfo]:
        return [info for info in self.infos if info.error is not None]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object or module in code, for every plugin manager made after.

    This is the path for frozen applications and for
    ``TASKSHED_DISABLE_PLUGIN_AUTOLOAD=1``: explicit plugins are loaded even
    when entry points are not.
    """
    plugin_name = name or _plugin_name(plugin)
    if all(existing is not plugin for _, existing in _explicit):
        _explicit.append((plugin_name, plugin))
    from taskshed.registry import clear_default_registry

    clear_default_registry()


def unregister_plugin(plugin: object) -> None:
    """Undo :func:`register_plugin`."""
    _explicit[:] = [(n, p) for n, p in _explicit if p is not plugin]
    from taskshed.registry import clear_default_registry

    clear_default_registry()


def create_plugin_manager(
    *,
    autoload: bool | None = None,
    strict: bool | None = None,
    plugins: list[object] | tuple[object, ...] = (),
) -> TaskshedPluginManager:
    """Build a plugin manager: add the hookspecs, load entry points, register the rest.

    :param autoload: load the ``taskshed`` entry-point group (default: unless
        ``TASKSHED_DISABLE_PLUGIN_AUTOLOAD=1``). When off, only the core's
        built-ins, plugins passed here and those given to
        :func:`register_plugin` are loaded.
    :param strict: a plugin that fails to load (or, once the registry is built,
        whose hooks answer wrongly) raises :class:`PluginLoadError` instead of
        being reported and skipped (default: ``TASKSHED_STRICT_PLUGINS=1``).
    :param plugins: extra plugin objects to register (as are the modules named in
        ``TASKSHED_PLUGINS``, comma-separated).
    """
    if autoload is None:
        autoload = not env_flag(DISABLE_AUTOLOAD_ENV)
    if strict is None:
        strict = env_flag(STRICT_ENV)
    pm = TaskshedPluginManager(strict=strict)
    pm.add_hookspecs(hookspecs)
    if autoload:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            _load_entry_point(pm, ep, strict=strict)
    for name, module_name in BUILTIN_PLUGINS.items():
        module = importlib.import_module(module_name)
        if not pm.is_registered(module):
            pm.register(module, name=name)
            pm.infos.append(_info(name, module, source="built-in"))
    extra: list[tuple[str | None, object]] = [*_explicit, *((None, p) for p in plugins)]
    for module_name in filter(
        None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))
    ):
        try:
            extra.append((module_name, importlib.import_module(module_name)))
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if strict:
                raise PluginLoadError(
                    f"taskshed plugin {module_name!r} (from {PLUGINS_ENV}) failed to load: {message}"
                ) from exc
            log.warning(
                "taskshed plugin %r (from %s) failed to load: %s", module_name, PLUGINS_ENV, message
            )
            pm.infos.append(PluginInfo(module_name, None, None, PLUGINS_ENV, message))
    for given_name, plugin in extra:
        if pm.is_registered(plugin):
            continue
        plugin_name = given_name or _plugin_name(plugin)
        pm.register(plugin, name=plugin_name)
        pm.infos.append(_info(plugin_name, plugin, source="explicit"))
    return pm


def _plugin_name(plugin: object) -> str:
    """A readable name: a module's name, or ``module.Class`` of a plugin object."""
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str):
        return name
    kind = type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}@{id(plugin):x}"


def _load_entry_point(pm: TaskshedPluginManager, ep: EntryPoint, *, strict: bool) -> None:
    dist = ep.dist
    dist_name = dist.name if dist is not None else None
    version = dist.version if dist is not None else None
    if pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
        return
    try:
        plugin = ep.load()
        if pm.is_registered(plugin):
            return
        pm.register(plugin, name=ep.name)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        if strict:
            raise PluginLoadError(
                f"taskshed plugin {ep.name!r} ({dist_name or ep.value}) failed to load: {message}"
            ) from exc
        log.warning(
            "taskshed plugin %r (%s) failed to load and is skipped: %s",
            ep.name,
            dist_name or ep.value,
            message,
        )
        pm.infos.append(PluginInfo(ep.name, dist_name, version, "entry point", message))
        return
    pm.infos.append(PluginInfo(ep.name, dist_name, version, "entry point"))


def _info(name: str, plugin: Any, *, source: str) -> PluginInfo:
    module = getattr(plugin, "__name__", None) or type(plugin).__module__
    top = module.split(".")[0]
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    dists = packages_distributions().get(top, [])
    dist_name = dists[0] if dists else None
    try:
        dist_version = version(dist_name) if dist_name else None
    except PackageNotFoundError:
        dist_version = None
    return PluginInfo(name, dist_name, dist_version, source)
