"""Moved to :mod:`tests.support.services`; this name stays for branches written against it."""

from tests.support.services import (
    MYSQL_URL,
    POSTGRESQL_URL,
    REDIS_URL,
    require_service,
    services_required,
)

__all__ = ["MYSQL_URL", "POSTGRESQL_URL", "REDIS_URL", "require_service", "services_required"]
