"""Log output of the ``taskshed`` command: a level, and text or one JSON object per line."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal

LogFormat = Literal["text", "json"]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS: tuple[LogFormat, ...] = ("text", "json")
LEVEL_ENV = "TASKSHED_LOG_LEVEL"
FORMAT_ENV = "TASKSHED_LOG_FORMAT"
#: The logger of the one-line-per-run records (``extra=`` task_id, callback, worker, ...).
RUN_LOGGER = "taskshed.runs"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Libraries whose INFO chatter (migration steps, driver notes) would drown a command's output.
_QUIET_LOGGERS = ("alembic", "asyncmy")
#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, and the ``extra=`` fields.

    Run records carry ``task_id``, ``callback``, ``worker``, ``outcome``,
    ``duration`` and ``lag`` (seconds); a record with an exception gets its
    traceback as ``exception``. Values JSON can't hold are written as text.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def parse_level(text: str) -> int:
    """``"info"`` -> ``logging.INFO``; ``ValueError`` naming the choices for anything else."""
    name = text.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {text!r}")
    return int(getattr(logging, name))


def parse_format(text: str) -> LogFormat:
    name = text.strip().lower()
    if name not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {text!r}")
    return name


def configure_logging(
    level: int = logging.INFO,
    fmt: LogFormat = "text",
    *,
    run_log: bool = True,
    stream: IO[str] | None = None,
) -> None:
    """Send every record at ``level`` or above to ``stream`` (stderr), as text or JSON.

    ``run_log=False`` keeps the one-line-per-run INFO records of
    :data:`RUN_LOGGER` out (failures, at WARNING and ERROR, still show).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if level > logging.DEBUG:
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(max(level, logging.WARNING))
    runs = logging.getLogger(RUN_LOGGER)
    runs.setLevel(logging.NOTSET if run_log else max(level, logging.WARNING))


def env_level() -> str | None:
    return os.environ.get(LEVEL_ENV) or None


def env_format() -> str | None:
    return os.environ.get(FORMAT_ENV) or None
