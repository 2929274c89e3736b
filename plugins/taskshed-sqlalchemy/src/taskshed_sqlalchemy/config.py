"""``MySQLConfig``: the connection settings of TaskShed 0.10's MySQL store, unchanged."""

from __future__ import annotations

import ssl as _ssl
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class MySQLConfig:
    """Where the MySQL or MariaDB server is, as TaskShed 0.10 took it.

    ``ssl`` is ``True`` (verify with the system's CAs), an ``ssl.SSLContext``,
    or ``None``/``False`` for none. ``auth_plugin`` is accepted for
    compatibility; asyncmy negotiates the server's plugin itself.
    ``server_public_key`` is for ``caching_sha2_password``/``sha256_password``
    over an unencrypted connection.
    """

    host: str = "localhost"
    port: int = 3306
    user: str = "root"
    password: str | None = field(default=None, repr=False)
    db: str
    connect_timeout: int | None = None
    ssl: bool | _ssl.SSLContext | None = None
    unix_socket: str | None = None
    auth_plugin: str | None = None
    server_public_key: str | bytes | None = field(default=None, repr=False)

    def connect_args(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncmy.connect`` beyond host, user, password and db."""
        args: dict[str, Any] = {}
        if self.connect_timeout is not None:
            args["connect_timeout"] = self.connect_timeout
        if self.ssl is True:
            args["ssl"] = _ssl.create_default_context()
        elif isinstance(self.ssl, _ssl.SSLContext):
            args["ssl"] = self.ssl
        if self.unix_socket:
            args["unix_socket"] = self.unix_socket
        if self.server_public_key is not None:
            key = self.server_public_key
            args["server_public_key"] = key.encode() if isinstance(key, str) else key
        return args
