"""Kept for TaskShed 0.10 import paths (``taskshed.utils.errors``)."""
