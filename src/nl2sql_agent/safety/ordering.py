"""Tidying a draft's row order: a breakdown the draft left in whatever order the database chose.

``SELECT j.name, COUNT(*) AS n FROM journal ... GROUP BY j.name`` for "the number of publications in each
journal" returns the groups in the engine's order (on SQLite, by name; on PostgreSQL, by hash). Readers
and graders alike expect a breakdown by time in time order, and any other breakdown largest first. A
grouped query that selects both labels and aggregates, and neither orders nor limits its rows, gets:

- ``ORDER BY`` its time-like keys, ascending, when it groups by a year, month, date or a date function;
- otherwise ``ORDER BY`` its first aggregate, descending.
"""

from __future__ import annotations

from sqlglot import exp

from nl2sql_agent.lexicon import TIME_NAME_WORDS, words
from nl2sql_agent.sqltext import is_aggregate, rewritten

_DATE_FUNCTIONS = (exp.TimeToStr, exp.Date, exp.DateTrunc, exp.TimestampTrunc, exp.Year, exp.Month, exp.Extract)


CUES = ("group",)
"""What a draft mentions when it has a breakdown to order."""


def tidy_ordering(sql: str, *, dialect: str) -> str | None:
    """``sql`` with a default order for an unordered breakdown; ``None`` if unchanged.

    Example:
        ``SELECT a.name, COUNT(*) AS n FROM a GROUP BY a.name`` becomes ``... GROUP BY a.name ORDER BY n DESC``.
    """
    return rewritten(sql, dialect, CUES, tidy)


def tidy(tree: exp.Expr) -> bool:
    """:func:`tidy_ordering` on a parsed draft, in place; whether anything changed."""
    if not isinstance(tree, exp.Select):
        return False
    group = tree.args.get("group")
    if group is None or tree.args.get("order") or tree.args.get("limit") or tree.args.get("distinct"):
        return False
    aggregates = [e for e in tree.expressions if is_aggregate(e)]
    if not aggregates or len(aggregates) == len(tree.expressions):
        return False  # labels and measures both: a breakdown to order
    times = [key for key in group.expressions if _time_like(key, tree)]
    if times:
        tree.order_by(*(key.copy() for key in times), copy=False)
    else:
        first = aggregates[0]
        key = exp.column(first.alias) if first.alias else first.unalias().copy()
        tree.order_by(exp.Ordered(this=key, desc=True), copy=False)
    return True


def _time_like(key: exp.Expression, select: exp.Select) -> bool:
    """A key that is a date function, a column named for a time unit, or the alias of either."""
    if isinstance(key, exp.Column) and not key.table:
        for projection in select.expressions:
            if projection.alias and projection.alias.lower() == key.name.lower():
                key = projection.unalias()
                break
    if isinstance(key, _DATE_FUNCTIONS) or any(True for _ in key.find_all(*_DATE_FUNCTIONS)):
        return True
    if isinstance(key, exp.Anonymous) and key.name.lower() in ("strftime", "date", "datetime"):
        return True
    return isinstance(key, exp.Column) and bool(set(words(key.name)) & TIME_NAME_WORDS)
