"""Tidying a draft's arithmetic before it is checked: where SQL's integer rules betray what the draft meant.

1. Integer division. ``COUNT(DISTINCT a.aid) / COUNT(DISTINCT o.oid)`` for "the ratio of authors to
   organizations" gives 0 or 1 on SQLite and PostgreSQL alike: both truncate an integer quotient. A
   division of two integer expressions (counts, sums or extremes of integer columns, integer columns)
   gets its numerator cast to a real number, as a ratio, share or average means. Not when the divisor is
   a literal (``minutes / 60`` may be a unit conversion that wants whole units), nor when the question
   asks for an integer.
2. Years held as numbers. ``STRFTIME('%Y', publication.year)`` on an INTEGER ``year`` column reads 2021 as
   a Julian day number, a year in the 5th millennium BC. The year column already is the year.
3. Times held as Unix epochs. ``STRFTIME('%Y-%m', flight.departure_time)`` on an INTEGER column named as a
   point in time: SQLite reads a bare number as a Julian day, so the epoch needs its ``'unixepoch'``
   modifier (not for milliseconds, ``..._ms``, which no modifier reads).
4. Dates subtracted as text. ``AVG(p.payment_date - s.sale_date)`` on two DATE columns subtracts the
   numbers SQLite reads at the start of each string: the years. The difference becomes
   ``julianday(a) - julianday(b)``, in days, or in the seconds, minutes or hours the question asks for.

Types come from the catalog's declared column types; the numeric date rules also read the column's name.
"""

from __future__ import annotations

from sqlglot import exp

from nl2sql_agent.db.types import ColumnInfo, SchemaCatalog, TableInfo
from nl2sql_agent.lexicon import stems, words
from nl2sql_agent.safety.autofix import joined_tables
from nl2sql_agent.sqltext import rewritten

_WHOLE_NUMBER_WORDS = frozenset({"integer", "whole", "truncate", "truncated", "floor"})
"""Words asking for a whole number ("as an integer"); "rounded to 2 decimal places" asks for a real one."""
_YEAR_WORDS = frozenset({"year", "yr"})
_POINT_IN_TIME_WORDS = frozenset({"time", "timestamp", "ts", "at", "date", "datetime", "epoch"})
"""An integer column named as a point in time holds Unix seconds: ISO text cannot be an integer."""
_SUBSECOND_WORDS = frozenset({"ms", "millis", "milliseconds", "us", "ns"})
CUES = ("/", "-", "strftime", "date", "julianday")
"""What a draft mentions when it divides, subtracts or formats a date (``date`` covers ``datetime``)."""


def tidy_arithmetic(sql: str, *, dialect: str, catalog: SchemaCatalog, question: str = "") -> str | None:
    """``sql`` with integer ratios made real and numeric years and epochs read as such; ``None`` if unchanged.

    Example:
        ``SELECT COUNT(a.aid) / COUNT(o.oid) FROM ...`` becomes ``SELECT CAST(COUNT(a.aid) AS REAL) /
        COUNT(o.oid) FROM ...``.
    """
    return rewritten(sql, dialect, CUES, lambda tree: tidy(tree, dialect=dialect, catalog=catalog, question=question))


def tidy(tree: exp.Expr, *, dialect: str, catalog: SchemaCatalog, question: str = "") -> bool:
    """:func:`tidy_arithmetic` on a parsed draft, in place; whether anything changed."""
    whole = bool(stems(question) & _WHOLE_NUMBER_WORDS)
    unit = _unit(question)
    changed = False
    for select in list(tree.find_all(exp.Select)):
        columns = _Columns(select, catalog)
        if not whole:
            changed |= _real_division(select, columns)
        if dialect == "sqlite":
            changed |= _numeric_dates(select, columns)
            changed |= _date_differences(select, columns, unit)
    return changed


class _Columns:
    """The catalog's column for a column reference in one SELECT (its own FROM and JOINs only)."""

    def __init__(self, select: exp.Select, catalog: SchemaCatalog) -> None:
        self._by_alias: dict[str, TableInfo] = {}
        for _, table in joined_tables(select):
            info = catalog.table(table.name)
            if info is not None:
                self._by_alias[table.alias_or_name.lower()] = info
        self._select = select

    def info(self, column: exp.Column) -> ColumnInfo | None:
        if column.parent_select is not self._select:
            return None  # a subquery's column: its own scope, resolved when that SELECT is visited
        if column.table:
            table = self._by_alias.get(column.table.lower())
            return table.column(column.name) if table is not None else None
        found = [c for table in self._by_alias.values() if (c := table.column(column.name)) is not None]
        return found[0] if len(found) == 1 else None


def _is_integer(node: exp.Expression, columns: _Columns) -> bool:
    if isinstance(node, exp.Count):
        return True
    if isinstance(node, (exp.Sum, exp.Max, exp.Min, exp.Paren, exp.Neg, exp.Abs)):
        return _is_integer(node.this, columns)
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Mod)):
        return _is_integer(node.this, columns) and _is_integer(node.expression, columns)
    if isinstance(node, exp.Literal):
        return not node.is_string and node.this.lstrip("-").isdigit()
    if isinstance(node, exp.Case):
        branches = [branch.args.get("true") for branch in node.args.get("ifs") or []]
        default = node.args.get("default")
        branches += [default] if default is not None else []
        return bool(branches) and all(b is not None and (_is_integer(b, columns) or _is_null(b)) for b in branches)
    if isinstance(node, exp.Cast):
        return node.to.is_type(*exp.DataType.INTEGER_TYPES)
    if isinstance(node, exp.Column):
        info = columns.info(node)
        return info is not None and "int" in (info.type or "").lower()
    return False


def _is_null(node: exp.Expression) -> bool:
    return isinstance(node, exp.Null)


def _real_division(select: exp.Select, columns: _Columns) -> bool:
    changed = False
    for division in list(select.find_all(exp.Div)):
        if division.parent_select is not select:
            continue
        numerator, divisor = division.this, division.expression
        if isinstance(_unwrapped(divisor), exp.Literal):
            continue
        if _is_integer(numerator, columns) and _is_integer(divisor, columns):
            numerator.replace(exp.cast(numerator.copy(), exp.DataType.build("DOUBLE")))
            changed = True
    return changed


def _unwrapped(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _numeric_dates(select: exp.Select, columns: _Columns) -> bool:
    changed = False
    for call in list(select.find_all(exp.TimeToStr, exp.Anonymous)):
        if call.parent_select is not select:
            continue
        target, fmt = _strftime_parts(call)
        if not isinstance(target, exp.Column) or fmt is None:
            continue
        info = columns.info(target)
        if info is None or "int" not in (info.type or "").lower():
            continue
        # The catalog keeps no sample values of numeric columns: the name says what the number counts.
        named = set(words(info.name))
        if fmt == "%Y" and named & _YEAR_WORDS:
            call.replace(target.copy())  # the year itself; SQLite compares it with '2021' as a number
            changed = True
        elif named & _POINT_IN_TIME_WORDS and not named & _SUBSECOND_WORDS:
            modifier = exp.Literal.string("unixepoch")
            call.replace(exp.Anonymous(this="STRFTIME", expressions=[exp.Literal.string(fmt), target.copy(), modifier]))
            changed = True
    return changed


_DATE_TYPES = ("date", "datetime", "timestamp")
_UNIT_SCALES = {"second": 86400, "minute": 1440, "hour": 24}


def _unit(question: str) -> str:
    asked = stems(question)
    return next((unit for unit in _UNIT_SCALES if unit in asked), "day")


def _is_date(node: exp.Expression, columns: _Columns) -> bool:
    if isinstance(node, (exp.Max, exp.Min)):
        node = node.this
    if not isinstance(node, exp.Column):
        return False
    info = columns.info(node)
    return info is not None and (info.type or "").lower().startswith(_DATE_TYPES)


def _date_differences(select: exp.Select, columns: _Columns, unit: str) -> bool:
    changed = False
    for difference in list(select.find_all(exp.Sub)):
        if difference.parent_select is not select:
            continue
        later, earlier = difference.this, difference.expression
        if not (_is_date(later, columns) and _is_date(earlier, columns)):
            continue
        days = exp.Sub(
            this=exp.Anonymous(this="JULIANDAY", expressions=[later.copy()]),
            expression=exp.Anonymous(this="JULIANDAY", expressions=[earlier.copy()]),
        )
        scale = _UNIT_SCALES.get(unit)
        difference.replace(exp.paren(days * scale, copy=False) if scale else exp.paren(days, copy=False))
        changed = True
    return changed


def _strftime_parts(call: exp.Expr) -> tuple[exp.Expr | None, str | None]:
    """The value and format of a two-argument ``STRFTIME(format, value)``, however sqlglot parsed it."""
    if isinstance(call, exp.TimeToStr):
        fmt, value = call.args.get("format"), call.this
        if isinstance(value, exp.TsOrDsToTimestamp):
            value = value.this
    elif isinstance(call, exp.Anonymous) and call.name.lower() == "strftime" and len(call.expressions) == 2:
        fmt, value = call.expressions
    else:
        return None, None
    return value, fmt.name if isinstance(fmt, exp.Literal) and fmt.is_string else None
