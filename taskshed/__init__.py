"""taskshed: an asyncio task scheduler with pluggable datastores."""

from taskshed.config import load_settings, open_datastore
from taskshed.markers import hookimpl
from taskshed.plugins import create_plugin_manager, register_plugin

__all__ = [
    "create_plugin_manager",
    "hookimpl",
    "load_settings",
    "open_datastore",
    "register_plugin",
]
