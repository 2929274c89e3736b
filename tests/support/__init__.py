"""What the tests share: servers and tools they need, names of their own, ports, waiting.

Every module here is used by more than one test folder; a helper that only
one folder needs stays in that folder.
"""
