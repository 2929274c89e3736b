"""Which datastore and serializer to use: arguments, environment, pyproject.toml, defaults."""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskshed.datastores.base import DataStore
from taskshed.errors import ConfigurationError
from taskshed.notifiers.base import Notifier
from taskshed.registry import BackendRegistry, default_registry
from taskshed.serializers.base import Serializer
from taskshed.urls import URL

log = logging.getLogger("taskshed.config")

DATASTORE_ENV = "TASKSHED_DATASTORE"
NOTIFIER_ENV = "TASKSHED_NOTIFIER"
SERIALIZER_ENV = "TASKSHED_SERIALIZER"
DEFAULT_SERIALIZER = "json"
#: The embedded default: a SQLite file in the working directory, when the SQL plugin is installed.
EMBEDDED_DATASTORE = "sqlite+aiosqlite:///taskshed.db"
FALLBACK_DATASTORE = "memory://"


@dataclass(frozen=True)
class Settings:
    """The resolved configuration, and where each value came from."""

    datastore: URL
    serializer: str
    datastore_source: str
    serializer_source: str


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.taskshed]`` table, at or above ``start``.

    ``pyproject.toml`` files without the table are passed over, so a package
    inside a monorepo still finds the repository's configuration.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and _has_taskshed_table(candidate):
            return candidate
    return None


def _has_taskshed_table(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"can't read {path}: {exc}") from exc
    tool = data.get("tool")
    return isinstance(tool, dict) and "taskshed" in tool


def read_pyproject_table(path: Path | None) -> dict[str, Any]:
    """The ``[tool.taskshed]`` table of ``path`` (empty when absent)."""
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"can't read {path}: {exc}") from exc
    table = data.get("tool", {}).get("taskshed", {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"[tool.taskshed] in {path} must be a table")
    unknown = set(table) - {"datastore", "serializer", "notifier"}
    if unknown:
        raise ConfigurationError(
            f"[tool.taskshed] in {path} has unknown keys: {', '.join(sorted(unknown))}; "
            "known: datastore, serializer, notifier"
        )
    return table


def default_datastore_url(registry: BackendRegistry | None = None) -> str:
    """The embedded SQLite file when the SQL plugin is installed, else ``memory://``."""
    registry = registry or default_registry()
    if len(registry.datastores.get("sqlite+aiosqlite", [])) == 1:
        return EMBEDDED_DATASTORE
    return FALLBACK_DATASTORE


def load_settings(
    *,
    datastore: str | URL | None = None,
    serializer: str | None = None,
    pyproject: Path | None = None,
    registry: BackendRegistry | None = None,
) -> Settings:
    """Resolve the configuration: explicit arguments > environment > pyproject.toml > defaults."""
    pyproject = pyproject or find_pyproject()
    table = read_pyproject_table(pyproject)

    def pick(explicit: Any, env: str, key: str) -> tuple[Any, str]:
        if explicit is not None:
            return explicit, "argument"
        if os.environ.get(env):
            return os.environ[env], f"environment {env}"
        if key in table:
            if not isinstance(table[key], str):
                raise ConfigurationError(f"[tool.taskshed] {key} in {pyproject} must be a string")
            return table[key], f"{pyproject} [tool.taskshed]"
        return None, "default"

    url, url_source = pick(datastore, DATASTORE_ENV, "datastore")
    if url is None:
        url = default_datastore_url(registry)
    name, name_source = pick(serializer, SERIALIZER_ENV, "serializer")
    return Settings(
        datastore=URL.parse(url),
        serializer=name or DEFAULT_SERIALIZER,
        datastore_source=url_source,
        serializer_source=name_source,
    )


def get_serializer(
    name: str | None = None, *, registry: BackendRegistry | None = None
) -> Serializer:
    """The serializer registered under ``name`` (default: the configured one)."""
    registry = registry or default_registry()
    if name is None:
        name = load_settings(registry=registry).serializer
    return registry.serializer(name).factory()


def open_datastore(
    url: str | URL | None = None,
    *,
    serializer: str | Serializer | None = None,
    registry: BackendRegistry | None = None,
) -> DataStore:
    """Build the (unstarted) datastore that ``url`` names, with the configured serializer.

    ``url`` and ``serializer`` default to the configuration (see
    :func:`load_settings`). An unknown scheme raises
    :class:`~taskshed.errors.UnknownBackendError` listing the known schemes and
    the extra that would provide it.
    """
    registry = registry or default_registry()
    explicit_name = serializer if isinstance(serializer, str) else None
    settings = load_settings(datastore=url, serializer=explicit_name, registry=registry)
    if settings.datastore_source == "default":
        log.info(
            "no datastore configured (argument, %s or [tool.taskshed] datastore); "
            "using the default %s",
            DATASTORE_ENV,
            settings.datastore,
        )
    backend = registry.datastore(settings.datastore.scheme)
    chosen = serializer if serializer is not None and not isinstance(serializer, str) else None
    if chosen is None:
        chosen = registry.serializer(settings.serializer).factory()
    return backend.factory(settings.datastore, chosen)


def configured_notifier_url(
    explicit: str | None = None, *, pyproject: Path | None = None
) -> tuple[URL | None, str]:
    """The notifier URL the configuration names, and where from; ``(None, "default")`` if none.

    Precedence as for the datastore: argument > ``TASKSHED_NOTIFIER`` >
    ``[tool.taskshed] notifier``. With none, workers and schedulers use their
    store's own notifier where it has one.
    """
    if explicit:
        return URL.parse(explicit), "argument"
    if os.environ.get(NOTIFIER_ENV):
        return URL.parse(os.environ[NOTIFIER_ENV]), f"environment {NOTIFIER_ENV}"
    pyproject = pyproject or find_pyproject()
    value = read_pyproject_table(pyproject).get("notifier")
    if value is not None:
        if not isinstance(value, str):
            raise ConfigurationError(f"[tool.taskshed] notifier in {pyproject} must be a string")
        return URL.parse(value), f"{pyproject} [tool.taskshed]"
    return None, "default"


def open_notifier(url: str | URL, *, registry: BackendRegistry | None = None) -> Notifier:
    """Build the (unstarted) notifier ``url`` names (``redis://...``, ``postgresql://...``)."""
    registry = registry or default_registry()
    parsed = URL.parse(url)
    return registry.notifier(parsed.scheme).factory(parsed)


def resolve_notifier(choice: Notifier | str | None, store: DataStore) -> Notifier | None:
    """What a worker or scheduler listens on / publishes to.

    ``"store"`` (the default) means: the configured notifier (``TASKSHED_NOTIFIER``,
    ``[tool.taskshed] notifier``) if there is one, else the store's own, else none.
    A URL string opens that notifier; a :class:`Notifier` is used as it is.
    """
    if choice is None or isinstance(choice, Notifier):
        return choice
    if choice != "store":
        return open_notifier(choice)
    url, _ = configured_notifier_url()
    if url is not None:
        return open_notifier(url)
    return store.create_notifier()
