"""Tidying a draft's ranges: a BETWEEN written from the later bound to the earlier one.

``s.sale_date BETWEEN '2026-12-04' AND DATE('now', '-30 days')`` for "the past 30 days" matches nothing:
BETWEEN needs its lower bound first, and a small model writes "from today back 30 days". When both
bounds are constants (no column, no subquery), SQLite itself says whether the first is the greater, and
if so the two swap. Only on SQLite, whose date functions the draft used; the bounds are evaluated on an
in-memory database that holds no data.
"""

from __future__ import annotations

import sqlite3

from sqlglot import exp

from nl2sql_agent.sqltext import rewritten

CUES = ("between",)
"""What a draft mentions when it has a range to check."""


def tidy_ranges(sql: str, *, dialect: str) -> str | None:
    """``sql`` with each constant BETWEEN put lower bound first; ``None`` if unchanged.

    Example:
        ``d BETWEEN '2024-12-31' AND '2024-01-01'`` becomes ``d BETWEEN '2024-01-01' AND '2024-12-31'``.
    """
    if dialect != "sqlite":
        return None
    return rewritten(sql, dialect, CUES, lambda tree: tidy(tree, dialect=dialect))


def tidy(tree: exp.Expr, *, dialect: str) -> bool:
    """:func:`tidy_ranges` on a parsed draft, in place; whether anything changed."""
    betweens = list(tree.find_all(exp.Between)) if dialect == "sqlite" else []
    if not betweens:
        return False  # no in-memory database to open
    changed = False
    with sqlite3.connect(":memory:") as connection:
        for between in betweens:
            low, high = between.args.get("low"), between.args.get("high")
            if low is None or high is None:
                continue
            if _constant(low) and _constant(high) and _greater(connection, low, high, dialect):
                between.set("low", high.copy())
                between.set("high", low.copy())
                changed = True
    return changed


def _constant(node: exp.Expression) -> bool:
    return not any(True for _ in node.find_all(exp.Column, exp.Query, exp.Placeholder))


def _greater(connection: sqlite3.Connection, low: exp.Expression, high: exp.Expression, dialect: str) -> bool:
    try:
        row = connection.execute(f"SELECT ({low.sql(dialect=dialect)}) > ({high.sql(dialect=dialect)})").fetchone()
    except sqlite3.Error:
        return False  # not a value SQLite can compute on its own: left as written
    return bool(row and row[0] == 1)
