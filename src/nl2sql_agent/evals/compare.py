"""Execution-accuracy comparison of two query results.

The rules, following Spider/BIRD test-suite accuracy (Zhong et al., ``result_eq``) and defog sql-eval:

* Rows are tuples and results are compared as **multisets** of rows; row order matters only when the
  gold query's outermost query has an ``ORDER BY`` (decided on sqlglot's AST).
* Column **names never matter** and column **order does not either**: when both results have the same
  number of columns, any permutation of the predicted columns that makes the results equal is a match.
* With the ``subset`` rule (defog), the predicted result may carry extra columns: a match needs the gold
  columns to map one-to-one onto some predicted columns with the same rows.
* Values: ``NULL`` equals ``NULL``; numbers compare across int/float/bool/Decimal with
  ``rel_tol=1e-6, abs_tol=1e-6``; text is compared exactly (case and whitespace included); a number never
  equals its text form. Two empty results match whatever their columns.
* A truncated result (over the row cap) never matches.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from nl2sql_agent.evals.execution import QueryResult
from nl2sql_agent.evals.items import MatchRule

REL_TOL = 1e-6
ABS_TOL = 1e-6
MAX_PERMUTATIONS = 5_000
"""Column mappings tried per comparison; wide results with many look-alike columns stop here."""
_MAX_FUZZY_ROWS = 2_000
"""Rows left unmatched by exact hashing above which the O(n^2) tolerant pass is skipped."""
_HASH_DIGITS = 9


def gold_is_ordered(sql: str, dialect: str = "sqlite") -> bool:
    """Whether the outermost query of ``sql`` has an ``ORDER BY`` (so row order is part of the answer).

    An ``ORDER BY`` inside a CTE, a subquery or one branch of a ``UNION`` does not count.
    SQL that sqlglot cannot parse is treated as unordered.

    Example:
        >>> gold_is_ordered("SELECT a FROM t ORDER BY a")
        True
        >>> gold_is_ordered("SELECT * FROM (SELECT a FROM t ORDER BY a LIMIT 3)")
        False
    """
    return _outermost_ordered(sql, dialect) is not None


def gold_tie_columns(sql: str, dialect: str = "sqlite") -> tuple[int, ...]:
    """The output columns the outermost ``ORDER BY`` of ``sql`` sorts on, when every sort key is one of them.

    Rows equal on all of these columns are ties, and SQL leaves their order open: a prediction may list them
    in another order and still be right. ``()`` when the query is unordered or sorts on something it does
    not return (then the order is compared row by row).

    Example:
        >>> gold_tie_columns("SELECT name, COUNT(*) AS n FROM t GROUP BY name ORDER BY n DESC")
        (1,)
        >>> gold_tie_columns("SELECT name FROM t ORDER BY age")
        ()
    """
    query = _outermost_ordered(sql, dialect)
    if query is None:
        return ()
    projections = query.selects
    indexes: list[int] = []
    for ordered in query.args["order"].expressions:
        index = _output_index(ordered.this, projections)
        if index is None:
            return ()
        indexes.append(index)
    return tuple(dict.fromkeys(indexes))


@lru_cache(maxsize=4096)
def _outermost_ordered(sql: str, dialect: str) -> exp.Query | None:
    """The outermost query of ``sql`` when it orders its rows (read-only: cached, since scoring asks
    :func:`gold_is_ordered` and :func:`gold_tie_columns` of the same gold query)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError:
        return None
    if len(statements) != 1:
        return None
    node: Any = statements[0]
    while True:
        if node.args.get("order") is not None:
            return node if isinstance(node, exp.Query) else None
        # "(SELECT ... ORDER BY x)" at top level: the parentheses change nothing.
        if isinstance(node, exp.Subquery | exp.Paren) and node.this is not None:
            node = node.this
            continue
        return None


def _output_index(key: exp.Expr, projections: Sequence[exp.Expr]) -> int | None:
    """Which output column a sort key is: by position (``ORDER BY 2``), alias or the same expression."""
    if isinstance(key, exp.Literal) and key.is_int:
        position = int(key.this) - 1
        return position if 0 <= position < len(projections) else None
    text = key.sql().lower()
    for index, projection in enumerate(projections):
        if isinstance(key, exp.Column) and not key.table and projection.alias_or_name.lower() == key.name.lower():
            return index
        if projection.unalias().sql().lower() == text:
            return index
    return None


StatementKind = Literal["query", "multiple", "write", "unparsed"]


def statement_kind(sql: str, dialect: str = "sqlite") -> StatementKind:
    """Classify SQL on sqlglot's AST.

    ``query``: exactly one read-only query (SELECT / set operation / VALUES); ``multiple``: several
    queries; ``write``: any statement that is not a query (DML, DDL, PRAGMA, ATTACH, ...);
    ``unparsed``: sqlglot cannot parse it (some valid SQLite, e.g. an expression after ``LIMIT``). Such
    SQL still runs, on a read-only connection, which is the actual guarantee.
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError:
        return "unparsed"
    if not statements:
        return "unparsed"
    if any(not isinstance(statement, exp.Query) for statement in statements):
        return "write"
    return "query" if len(statements) == 1 else "multiple"


def _canonical(value: Any) -> Any:
    """Map a cell to a comparable value: numbers to float/int, temporal values to ISO text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def values_equal(left: Any, right: Any) -> bool:
    """Cell equality under the module's rules (NULL = NULL, tolerant numbers, exact text)."""
    left, right = _canonical(left), _canonical(right)
    if left is None or right is None:
        return left is None and right is None
    if _is_number(left) and _is_number(right):
        if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
            return True
        return math.isclose(left, right, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if _is_number(left) or _is_number(right):
        return False
    return bool(left == right)


def _hash_key(value: Any) -> Any:
    """A hashable key under which values that are equal (bar rounding edge cases) collide."""
    value = _canonical(value)
    if _is_number(value):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return ("n", repr(number))
        if abs(number) < ABS_TOL:
            return ("n", 0.0)
        return ("n", float(f"{number:.{_HASH_DIGITS}g}"))
    if value is None:
        return ("null",)
    return (type(value).__name__, value)


def rows_equal(left: Sequence[Any], right: Sequence[Any]) -> bool:
    """Two rows of the same width are equal cell by cell."""
    return len(left) == len(right) and all(values_equal(a, b) for a, b in zip(left, right, strict=True))


def _row_key(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_hash_key(value) for value in row)


def _multiset_equal(gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]]) -> bool:
    if len(gold) != len(pred):
        return False
    gold_keys = [_row_key(row) for row in gold]
    remaining = Counter(gold_keys)
    unmatched_pred: list[tuple[Any, ...]] = []
    for row in pred:
        key = _row_key(row)
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            unmatched_pred.append(row)
    if not unmatched_pred:
        return True
    # Rounding can put values within tolerance into different buckets: match the leftovers pairwise.
    if len(unmatched_pred) > _MAX_FUZZY_ROWS:
        return False
    pool: list[tuple[Any, ...]] = []
    for row, key in zip(gold, gold_keys, strict=True):
        if remaining[key] > 0:
            remaining[key] -= 1
            pool.append(row)
    for row in unmatched_pred:
        for index, candidate in enumerate(pool):
            if rows_equal(candidate, row):
                del pool[index]
                break
        else:
            return False
    return not pool


def _ordered_equal(
    gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]], ties: tuple[int, ...] = ()
) -> bool:
    """Row by row, except that a run of gold rows tied on every sort column may come in any order."""
    if len(gold) != len(pred):
        return False
    if not ties:
        return all(rows_equal(g, p) for g, p in zip(gold, pred, strict=True))
    start = 0
    while start < len(gold):
        key = [gold[start][i] for i in ties]
        end = start + 1
        while end < len(gold) and rows_equal([gold[end][i] for i in ties], key):
            end += 1
        if not _multiset_equal(gold[start:end], pred[start:end]):
            return False
        start = end
    return True


def _column_compatible(gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]], g: int, p: int) -> bool:
    """Cheap necessary condition for gold column ``g`` to be predicted column ``p``: same value multiset."""
    return _multiset_equal([(row[g],) for row in gold], [(row[p],) for row in pred])


def _mappings(candidates: list[list[int]]) -> Iterator[tuple[int, ...]]:
    """Injective assignments gold column -> predicted column, each from its candidate list."""
    chosen: list[int] = []
    used: set[int] = set()

    def extend(index: int) -> Iterator[tuple[int, ...]]:
        if index == len(candidates):
            yield tuple(chosen)
            return
        for column in candidates[index]:
            if column in used:
                continue
            chosen.append(column)
            used.add(column)
            yield from extend(index + 1)
            chosen.pop()
            used.discard(column)

    return extend(0)


def results_match(
    gold: QueryResult,
    pred: QueryResult,
    *,
    ordered: bool = False,
    rule: MatchRule = "exact",
    ties: tuple[int, ...] = (),
) -> bool:
    """Whether ``pred`` answers the same as ``gold`` under the module's rules.

    Args:
        gold: Result of the gold query.
        pred: Result of the predicted query.
        ordered: Compare rows as sequences (the gold query's outermost query orders).
        ties: Gold columns holding every sort key (:func:`gold_tie_columns`): rows equal on them may come
            in any order among themselves. Empty: the order is compared row by row.
        rule: ``exact`` needs the same number of columns; ``subset`` lets ``pred`` carry extra columns.
    """
    if gold.truncated or pred.truncated:
        return False
    if not gold.rows and not pred.rows:
        return True
    if len(gold.rows) != len(pred.rows):
        return False
    gold_width, pred_width = len(gold.rows[0]), len(pred.rows[0])
    if gold_width > pred_width or (rule == "exact" and gold_width != pred_width):
        return False

    def compare(gold_rows: Sequence[tuple[Any, ...]], pred_rows: Sequence[tuple[Any, ...]]) -> bool:
        return _ordered_equal(gold_rows, pred_rows, ties) if ordered else _multiset_equal(gold_rows, pred_rows)

    identity = tuple(range(gold_width))
    # Fast path: the predicted columns are already in the gold's order.
    if gold_width == pred_width and compare(gold.rows, pred.rows):
        return True
    candidates = [
        [p for p in range(pred_width) if _column_compatible(gold.rows, pred.rows, g, p)] for g in range(gold_width)
    ]
    if any(not options for options in candidates):
        return False
    for tried, mapping in enumerate(_mappings(candidates)):
        if tried >= MAX_PERMUTATIONS:
            return False
        if mapping == identity and gold_width == pred_width:
            continue  # already checked above
        projected = [tuple(row[p] for p in mapping) for row in pred.rows]
        if compare(gold.rows, projected):
            return True
    return False
