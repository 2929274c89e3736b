"""Ship the repository's migrations/ folder inside the package, as taskshed_sqlalchemy/migrations.

The Alembic environment lives at the repository root (next to the code it
migrates for); a wheel built from the checkout copies it in here, and an
sdist carries it inside the package so a wheel built from the sdist has it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class MigrationsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            # An editable install finds the checkout's migrations/ through the symbolic
            # link src/taskshed_sqlalchemy/migrations (so `taskshed_sqlalchemy:migrations`
            # resolves there too); the wheel gets the real files below instead.
            return
        checkout = Path(self.root).resolve().parent.parent / "migrations"
        if not (checkout / "env.py").is_file():
            return  # building from an sdist: the package already holds them
        target = (
            "taskshed_sqlalchemy/migrations"
            if self.target_name == "wheel"
            else "src/taskshed_sqlalchemy/migrations"
        )
        for path in sorted(checkout.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                build_data["force_include"][str(path)] = f"{target}/{path.relative_to(checkout)}"
