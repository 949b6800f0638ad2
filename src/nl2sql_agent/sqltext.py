"""Pulling the SQL statement (or a refusal) out of a model's reply."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*([A-Za-z]*)[ \t]*\n?(.*?)```", re.DOTALL)
_CANNOT = re.compile(r"^\s*CANNOT ANSWER\s*:?\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_START = re.compile(r"\b(WITH|SELECT)\b", re.IGNORECASE)


def extract_sql(reply: str) -> tuple[str | None, str | None]:
    """``(sql, None)``, ``(None, reason)`` for a CANNOT ANSWER reply, or ``(None, None)`` when no SQL is there.

    This only cuts text out of prose; whether the text is safe is decided on its syntax tree later.
    """
    fences = [(lang.lower(), body.strip()) for lang, body in _FENCE.findall(reply)]
    sql = next((body for lang, body in fences if lang == "sql" and body), None)
    sql = sql or next((body for _, body in fences if _START.search(body)), None)
    if sql is None:
        cannot = _CANNOT.search(reply)
        if cannot:
            return None, cannot.group(1).strip() or "the tables do not hold that information"
        start = _START.search(reply)
        if start is None:
            return None, None
        sql = reply[start.start() :].strip()
    sql = sql.strip().rstrip(";").strip()
    return (sql or None), None
