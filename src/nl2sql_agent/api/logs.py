"""Structured JSON log lines carrying the request id; never secrets, questions' rows or credentials."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("nl2sql_request_id", default=None)

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is logged as a field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
# Defence in depth: these never reach a log line even if someone passes them in ``extra``.
_REDACTED = frozenset({"authorization", "api_key", "x-api-key", "token", "password", "secret", "rows", "jwt"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        payload: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            payload["request_id"] = request_id
        for key, value in vars(record).items():
            if key in _STANDARD or key in payload or key == "request_id":
                continue
            payload[key] = "[redacted]" if key.lower() in _REDACTED else value
        if record.exc_info and record.exc_info[0] is not None:
            payload["exc_type"] = record.exc_info[0].__name__
            payload["traceback"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on records from any logger (library ones included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``request_id`` and keep the record."""
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Send ``nl2sql_agent`` and ``uvicorn`` logs to stderr as JSON lines (idempotent)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RequestIdFilter())
    handler.set_name("nl2sql-json")
    for name in ("nl2sql_agent", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if h.get_name() != "nl2sql-json"] + [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    # Our access log replaces uvicorn's, which would log full query strings.
    logging.getLogger("uvicorn.access").disabled = True
