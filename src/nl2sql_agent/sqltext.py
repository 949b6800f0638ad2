"""Pulling the SQL statement (or a refusal) out of a model's reply, and reading one for a look at its names."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import sqlglot
from sqlglot import exp

_FENCE = re.compile(r"```[ \t]*([A-Za-z]*)[ \t]*\n?(.*?)```", re.DOTALL)
_CANNOT = re.compile(r"^\s*CANNOT ANSWER\s*:?\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_START = re.compile(r"\b(WITH|SELECT)\b", re.IGNORECASE)


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (inner quotes doubled), as SQLite and PostgreSQL read it."""
    return '"' + name.replace('"', '""') + '"'


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


def parse_or_none(sql: str | None, dialect: str) -> exp.Expr | None:
    """``sql``'s syntax tree, or ``None`` when there is no SQL or it does not parse.

    For code that reads or tidies a query and leaves one that does not parse alone (which tables a past
    answer read, which names a failed draft invented, join tidying, value lookups); validation proper
    raises its own precise errors instead.
    """
    if not sql:
        return None
    try:
        return sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return None


def mentions(sql: str, cues: Iterable[str]) -> bool:
    """Whether ``sql`` holds any of ``cues`` (lower-case words or operators), case-insensitively: a cheap
    test before a parse, for tidies that only ever act on queries holding one of them."""
    lowered = sql.lower()
    return any(cue in lowered for cue in cues)


def rewritten(sql: str, dialect: str, cues: Iterable[str], tidy: Callable[[exp.Expr], bool]) -> str | None:
    """``sql`` after ``tidy`` (which changes a parsed tree in place and says whether it did); ``None`` when
    ``sql`` holds none of ``cues``, does not parse, or ``tidy`` changed nothing."""
    if not mentions(sql, cues):
        return None  # no parse to pay for
    tree = parse_or_none(sql, dialect)
    return tree.sql(dialect=dialect) if tree is not None and tidy(tree) else None


def is_aggregate(projection: exp.Expr) -> bool:
    """Whether a selected expression aggregates its group (``COUNT(*)``, ``SUM(x) / 2``), and not over a
    window (``RANK() OVER (ORDER BY SUM(x))`` reads every group)."""
    return any(True for _ in projection.find_all(exp.AggFunc)) and not any(
        True for _ in projection.find_all(exp.Window)
    )
