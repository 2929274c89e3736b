"""taskshed-dashboard: see and steer a taskshed schedule in a browser.

``create_app(datastore)`` returns an ASGI app (Starlette) to run with uvicorn or
mount inside a FastAPI/Starlette application; ``taskshed dashboard`` serves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskshed_dashboard.app import create_app
    from taskshed_dashboard.auth import BasicAuth, TokenAuth

__all__ = ["BasicAuth", "TokenAuth", "create_app"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the plugin's entry point imports this package for every
    # `taskshed` command, and Starlette and Jinja2 are only needed by the dashboard.
    if name == "create_app":
        from taskshed_dashboard.app import create_app

        return create_app
    if name in ("BasicAuth", "TokenAuth"):
        from taskshed_dashboard import auth

        return getattr(auth, name)
    raise AttributeError(f"module 'taskshed_dashboard' has no attribute {name!r}")
