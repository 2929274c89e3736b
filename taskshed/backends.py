"""What plugins hand the host: descriptions of datastore, serializer and notifier backends.

Each description checks itself when it is built, so a plugin with a wrong
field fails in its own hook, where the host reports it under the plugin's
name (see :mod:`taskshed.registry`), instead of misbehaving when it is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskshed.datastores.base import DataStore
    from taskshed.notifiers.base import Notifier
    from taskshed.serializers.base import Serializer
    from taskshed.urls import URL

#: RFC 3986: a letter, then letters, digits, ``+``, ``-`` or ``.``.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
#: A serializer name: what a user types in configuration, so no spaces or quotes.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
#: An importable module name, e.g. ``asyncmy`` or ``google.cloud.spanner``.
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_scheme(value: object) -> str:
    """``value`` as a URL scheme (lower case), or a ``TypeError``/``ValueError`` saying why not."""
    if not isinstance(value, str):
        raise TypeError(f"a URL scheme must be a string, not {type(value).__name__}")
    if value.endswith(("://", ":")) and _SCHEME.fullmatch(value.split(":", 1)[0]):
        raise ValueError(
            f"URL scheme {value!r} must be given without '://' (write {value.split(':', 1)[0]!r})"
        )
    if not _SCHEME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a URL scheme: RFC 3986 allows a letter, then letters, "
            "digits, '+', '-' and '.'"
        )
    return value.lower()


def _strings(value: object, what: str, check: Callable[[object], str]) -> tuple[str, ...]:
    """A tuple of checked strings from any iterable but a lone string."""
    if isinstance(value, str):
        raise TypeError(f"{what} must be a tuple of strings, not the string {value!r}")
    if not isinstance(value, Iterable) or isinstance(value, dict):
        raise TypeError(f"{what} must be a tuple of strings, not {type(value).__name__}")
    items = tuple(check(item) for item in value)
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ValueError(f"{what} names {', '.join(map(repr, repeated))} twice")
    return items


def _example(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"an example must be a non-empty string, not {value!r}")
    return value


def _module(value: object) -> str:
    if not isinstance(value, str) or not _MODULE.fullmatch(value):
        raise ValueError(f"{value!r} is not a module name")
    return value


def _check_common(backend: Any) -> None:
    if not callable(backend.factory):
        raise TypeError(f"factory must be callable, not {type(backend.factory).__name__}")
    if not isinstance(backend.description, str):
        raise TypeError(f"description must be a string, not {type(backend.description).__name__}")


def _set(backend: object, name: str, value: object) -> None:
    object.__setattr__(backend, name, value)  # the dataclasses are frozen once checked


def _check_schemes_backend(backend: Any) -> None:
    """Check (and normalize) a backend keyed by URL schemes: a datastore's or a notifier's."""
    schemes = _strings(backend.schemes, "schemes", check_scheme)
    if not schemes:
        raise ValueError("schemes must name at least one URL scheme")
    _set(backend, "schemes", schemes)
    _set(backend, "examples", _strings(backend.examples, "examples", _example))
    _set(backend, "requires", _strings(backend.requires, "requires", _module))
    _check_common(backend)


@dataclass(frozen=True)
class DataStoreBackend:
    """A datastore a plugin provides, for the URL ``schemes`` it serves.

    ``factory(url, serializer)`` builds an unstarted store; it may import
    drivers lazily, so that listing plugins stays cheap. ``requires`` names
    the modules the factory will import (drivers): the host checks they are
    installed, without importing them, and says what to install when one is
    missing. ``description`` and ``examples`` are shown by ``taskshed plugins -v``
    and in the error for an unknown scheme.

    Every field is checked here: ``TypeError``/``ValueError`` for a lone string
    where a tuple belongs, a scheme that isn't RFC 3986 (or ends in ``://``),
    a factory that isn't callable.
    """

    schemes: tuple[str, ...]
    factory: Callable[[URL, Serializer], DataStore]
    description: str = ""
    #: URL forms to show in help and errors, e.g. ``redis://host:6379/0``.
    examples: tuple[str, ...] = field(default_factory=tuple)
    #: Modules the factory imports, e.g. ``("asyncmy",)``.
    requires: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _check_schemes_backend(self)


@dataclass(frozen=True)
class SerializerBackend:
    """A serializer a plugin provides under ``name``.

    ``factory()`` returns a :class:`~taskshed.serializers.base.Serializer`.
    ``requires`` works as for :class:`DataStoreBackend`.
    """

    name: str
    factory: Callable[[], Serializer]
    description: str = ""
    requires: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, not {type(self.name).__name__}")
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"serializer name {self.name!r} must be letters, digits, '_', '.', '+' or '-'"
            )
        _set(self, "requires", _strings(self.requires, "requires", _module))
        _check_common(self)


@dataclass(frozen=True)
class NotifierBackend:
    """A notifier a plugin provides, for the URL ``schemes`` it serves.

    ``factory(url)`` builds an unstarted :class:`~taskshed.notifiers.base.Notifier`.
    Its fields are checked as :class:`DataStoreBackend`'s are.
    """

    schemes: tuple[str, ...]
    factory: Callable[[URL], Notifier]
    description: str = ""
    examples: tuple[str, ...] = field(default_factory=tuple)
    requires: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _check_schemes_backend(self)
