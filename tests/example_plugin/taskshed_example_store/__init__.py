"""A small third-party taskshed datastore, written to show how a plugin is made."""

from taskshed_example_store.store import ExampleDataStore

__all__ = ["ExampleDataStore"]
