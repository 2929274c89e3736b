"""Targeted mutation testing: break a promise on purpose, check that a test notices.

``python -m tests.mutations`` applies each mutation of :mod:`tests.mutations.catalog`
in turn, runs the tests that guard it, and reports which were killed.
See docs/development.md.
"""
