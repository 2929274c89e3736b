"""The pluggy markers of the ``taskshed`` project."""

import pluggy

PROJECT_NAME = "taskshed"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Mark a plugin function as the implementation of a taskshed hook.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
