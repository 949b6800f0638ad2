"""Result comparison rules: order, tolerance, NULLs, column permutation, the subset rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from nl2sql_agent.evals.compare import gold_is_ordered, gold_tie_columns, results_match, statement_kind, values_equal
from nl2sql_agent.evals.execution import QueryResult


def result(*rows: tuple[Any, ...], truncated: bool = False) -> QueryResult:
    width = len(rows[0]) if rows else 0
    return QueryResult(tuple(f"c{i}" for i in range(width)), list(rows), truncated)


@pytest.mark.parametrize(
    ("sql", "ordered"),
    [
        ("SELECT a FROM t ORDER BY a", True),
        ("SELECT a FROM t ORDER BY a DESC LIMIT 3", True),
        ("SELECT a FROM t", False),
        ("SELECT * FROM (SELECT a FROM t ORDER BY a LIMIT 3)", False),
        ("WITH x AS (SELECT a FROM t ORDER BY a LIMIT 2) SELECT a FROM x", False),
        ("WITH x AS (SELECT a FROM t) SELECT a FROM x ORDER BY a", True),
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", True),
        ("SELECT a FROM t WHERE a IN (SELECT b FROM u ORDER BY b LIMIT 1)", False),
        ("SELECT 'order by' AS note FROM t", False),  # the words inside a string are no clause
        ("(SELECT a FROM t ORDER BY a)", True),
    ],
)
def test_order_sensitivity_follows_the_outermost_query(sql: str, ordered: bool) -> None:
    assert gold_is_ordered(sql) is ordered


def test_rows_compare_as_multisets_unless_ordered() -> None:
    gold, shuffled = result((1,), (2,), (3,)), result((3,), (1,), (2,))
    assert results_match(gold, shuffled, ordered=False)
    assert not results_match(gold, shuffled, ordered=True)
    assert results_match(gold, result((1,), (2,), (3,)), ordered=True)


def test_duplicates_count() -> None:
    assert not results_match(result((1,), (1,), (2,)), result((1,), (2,), (2,)))
    assert not results_match(result((1,), (2,)), result((1,), (1,), (2,)))


def test_float_tolerance_and_numeric_types() -> None:
    assert values_equal(0.1 + 0.2, 0.3)
    assert values_equal(1_000_000.0, 1_000_000.5)  # rel 1e-6 of 1e6 is 1.0
    assert not values_equal(1_000_000.0, 1_000_002.0)
    assert values_equal(1e-7, 0.0)  # abs 1e-6
    assert not values_equal(0.001, 0.002)
    assert values_equal(3, 3.0)
    assert values_equal(Decimal("2.50"), 2.5)
    assert values_equal(True, 1)
    assert not values_equal(3, "3")  # a number never equals its text
    assert results_match(result((1, 2.0000000001)), result((1.0, 2)))
    assert not results_match(result((1, 2.0)), result((1, 2.1)))


def test_tolerance_holds_across_hash_buckets() -> None:
    # 0.1234567885 and 0.1234567894 round to different 9-digit keys but are within tolerance.
    assert results_match(result((0.1234567885,), (5,)), result((5,), (0.1234567894,)))


def test_null_handling() -> None:
    assert values_equal(None, None)
    assert not values_equal(None, 0)
    assert not values_equal("", None)
    assert results_match(result((None, 1), (2, None)), result((2, None), (None, 1)))
    assert not results_match(
        result(
            (None,),
        ),
        result(
            (0,),
        ),
    )


def test_text_is_exact() -> None:
    assert not results_match(
        result(
            ("Oslo",),
        ),
        result(
            ("oslo",),
        ),
    )
    assert not results_match(
        result(
            ("Oslo",),
        ),
        result(
            ("Oslo ",),
        ),
    )


def test_column_permutation_is_allowed() -> None:
    gold = result(("Oslo", 700000), ("Lyon", 520000))
    assert results_match(gold, result((700000, "Oslo"), (520000, "Lyon")))
    assert results_match(gold, result((520000, "Lyon"), (700000, "Oslo")))
    # Same values per column, but paired differently: not the same answer.
    assert not results_match(gold, result(("Oslo", 520000), ("Lyon", 700000)))


def test_column_permutation_with_lookalike_columns() -> None:
    gold = result((1, 1, 2), (2, 2, 1))
    assert results_match(gold, result((2, 1, 1), (1, 2, 2)))
    assert not results_match(gold, result((1, 2, 1), (2, 1, 1)))


def test_column_permutation_keeps_row_order_when_ordered() -> None:
    gold = result(("a", 1), ("b", 2))
    assert results_match(gold, result((1, "a"), (2, "b")), ordered=True)
    assert not results_match(gold, result((2, "b"), (1, "a")), ordered=True)


@pytest.mark.parametrize(
    ("sql", "ties"),
    [
        ("SELECT name, COUNT(*) AS n FROM t GROUP BY name ORDER BY n DESC", (1,)),  # by alias
        ("SELECT name, COUNT(*) FROM t GROUP BY name ORDER BY COUNT(*) DESC, name", (1, 0)),  # by expression
        ("SELECT t.name, t.age FROM t ORDER BY 2", (1,)),  # by position
        ("SELECT t.name, t.age FROM t ORDER BY t.age", (1,)),  # the same qualified column
        ("SELECT name FROM t ORDER BY age", ()),  # a key it does not return: row by row
        ("SELECT name, age FROM t ORDER BY age, height", ()),
        ("SELECT name FROM t", ()),
    ],
)
def test_tie_columns_are_the_returned_sort_keys(sql: str, ties: tuple[int, ...]) -> None:
    assert gold_tie_columns(sql) == ties


def test_rows_tied_on_every_sort_key_may_come_in_any_order() -> None:
    gold = result(("ICML", 3), ("ISA", 1), ("AAAS", 1))
    tied_other_way = result(("ICML", 3), ("AAAS", 1), ("ISA", 1))
    assert results_match(gold, tied_other_way, ordered=True, ties=(1,))
    assert not results_match(gold, tied_other_way, ordered=True)  # no sort columns known: row by row
    # Out of order across different sort values is still wrong, and so are other rows in the tie.
    assert not results_match(gold, result(("ISA", 1), ("ICML", 3), ("AAAS", 1)), ordered=True, ties=(1,))
    assert not results_match(gold, result(("ICML", 3), ("ISA", 1), ("XYZ", 1)), ordered=True, ties=(1,))
    # Through a column permutation and the subset rule, the ties follow the gold's columns.
    wider = result((1, "AAAS", "x"), (3, "ICML", "y"), (1, "ISA", "z"))
    assert not results_match(gold, wider, ordered=True, ties=(1,), rule="subset")
    wider = result((3, "ICML", "y"), (1, "AAAS", "x"), (1, "ISA", "z"))
    assert results_match(gold, wider, ordered=True, ties=(1,), rule="subset")


def test_exact_rule_needs_the_same_width_and_subset_rule_allows_extra_columns() -> None:
    gold = result(("Oslo",), ("Lyon",))
    wider = result((1, "Oslo", 700000), (3, "Lyon", 520000))
    assert not results_match(gold, wider, rule="exact")
    assert results_match(gold, wider, rule="subset")
    assert not results_match(result(("Oslo",), ("Nice",)), wider, rule="subset")
    # The gold's columns must each map to a different predicted column.
    assert not results_match(result((1, 1), (3, 3)), result((1,), (3,)), rule="subset")
    assert results_match(result((1, 1), (3, 3)), result((1, "x", 1), (3, "y", 3)), rule="subset")


def test_empty_and_truncated_results() -> None:
    assert results_match(result(), result())
    assert not results_match(
        result(),
        result(
            (1,),
        ),
    )
    assert not results_match(
        result(
            (1,),
        ),
        result((1,), truncated=True),
    )


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "query"),
        ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", "query"),
        ("SELECT 1 UNION SELECT 2", "query"),
        ("SELECT 1; SELECT 2", "multiple"),
        ("DELETE FROM city", "write"),
        ("SELECT 1; DROP TABLE city", "write"),
        ("PRAGMA table_info(city)", "write"),
        ("ATTACH DATABASE 'x.db' AS x", "write"),
        ("SELECT a FROM t LIMIT 2 - (SELECT 1) % 2", "unparsed"),  # valid SQLite sqlglot cannot parse
    ],
)
def test_statement_kind(sql: str, kind: str) -> None:
    assert statement_kind(sql) == kind
