"""Range tidying: a constant BETWEEN written later bound first is put the right way round."""

from __future__ import annotations

import sqlite3

import pytest

from nl2sql_agent.safety.ranges import tidy_ranges


def count(sql: str) -> int:
    with sqlite3.connect(":memory:") as conn:
        conn.executescript(
            "CREATE TABLE sales (sale_date TEXT);"
            "INSERT INTO sales VALUES (date('now', '-3 days')), (date('now', '-10 days')), (date('now', '-60 days'));"
        )
        return int(conn.execute(sql).fetchone()[0])


def test_a_window_written_from_today_backwards_is_turned_round() -> None:
    draft = "SELECT COUNT(*) FROM sales AS s WHERE s.sale_date BETWEEN DATE('now') AND DATE('now', '-30 days')"
    assert count(draft) == 0  # BETWEEN needs the lower bound first: nothing matches
    tidied = tidy_ranges(draft, dialect="sqlite")
    assert tidied == "SELECT COUNT(*) FROM sales AS s WHERE s.sale_date BETWEEN DATE('now', '-30 days') AND DATE('now')"
    assert count(tidied) == 2
    literals = "SELECT COUNT(*) FROM sales AS s WHERE s.sale_date BETWEEN '2024-12-31' AND '2024-01-01'"
    assert tidy_ranges(literals, dialect="sqlite") == (
        "SELECT COUNT(*) FROM sales AS s WHERE s.sale_date BETWEEN '2024-01-01' AND '2024-12-31'"
    )


@pytest.mark.parametrize(
    ("draft", "dialect"),
    [
        ("SELECT COUNT(*) FROM sales AS s WHERE s.sale_date BETWEEN DATE('now', '-30 days') AND DATE('now')", "sqlite"),
        ("SELECT COUNT(*) FROM sales AS s WHERE DATE('now') BETWEEN s.sale_date AND '2000-01-01'", "sqlite"),  # column
        ("SELECT COUNT(*) FROM sales AS s WHERE s.sale_date BETWEEN NOSUCH(1) AND '2000-01-01'", "sqlite"),  # unknown
        ("SELECT COUNT(*) FROM sales AS s WHERE s.sale_date BETWEEN '2024-12-31' AND '2024-01-01'", "postgres"),
    ],
)
def test_ranges_in_order_or_not_constant_are_left(draft: str, dialect: str) -> None:
    assert tidy_ranges(draft, dialect=dialect) is None
