"""The ``taskshed`` command line."""
