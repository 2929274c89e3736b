"""Keeping credentials out of pages and logs."""

from __future__ import annotations

import re

from taskshed.errors import ConfigurationError
from taskshed.urls import URL

# scheme://user:password@ — the password part, up to the last "@" before the host.
_URL_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)[^\s@]*@")
_QUERY_SECRET = re.compile(r"((?:password|passwd|pwd|secret|token)=)[^&\s]*", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """``text`` with URL passwords and ``password=``-style query values replaced by ``***``."""
    return _QUERY_SECRET.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))


def masked_url(url: str | URL) -> str:
    """A datastore URL fit to show: its password, and secret-looking query values, masked."""
    try:
        rendered = URL.parse(url).render()
    except ConfigurationError:
        rendered = str(url)
    return mask_secrets(rendered)
