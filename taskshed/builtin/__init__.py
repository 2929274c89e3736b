"""The core's own plugins, registered through the ``taskshed`` entry points like any other."""
