"""Names of ``taskshed.datastores`` that plugins provide, imported when first used.

``RedisDataStore``/``RedisConfig`` come from the ``taskshed-redis`` plugin and
``MySQLDataStore``/``MySQLConfig`` from ``taskshed-sqlalchemy``. Without the
plugin, using one of them raises an ``ImportError`` that names the extra to
install.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> (module that provides it, extra that installs it)
PLUGIN_EXPORTS: dict[str, tuple[str, str]] = {
    "RedisDataStore": ("taskshed_redis", "redis"),
    "RedisConfig": ("taskshed_redis", "redis"),
    "MySQLDataStore": ("taskshed_sqlalchemy", "mysql"),
    "MySQLConfig": ("taskshed_sqlalchemy", "mysql"),
}


def load_plugin_export(module: str, name: str, names: frozenset[str] | None = None) -> Any:
    """Import ``name`` from its plugin, for ``module``'s ``__getattr__``.

    ``names`` limits which of :data:`PLUGIN_EXPORTS` ``module`` offers (default: all).
    """
    if (names is not None and name not in names) or name not in PLUGIN_EXPORTS:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    module_name, extra = PLUGIN_EXPORTS[name]
    try:
        provider = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"{name} needs the {module_name.replace('_', '-')} plugin: "
            f"pip install 'taskshed[{extra}]' ({exc})",
            name=module_name,
        ) from exc
    return getattr(provider, name)
