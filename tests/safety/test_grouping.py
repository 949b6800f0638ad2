"""Grouping tidying: a GROUP BY whose groups the question never asked for, and no one can tell apart."""

from __future__ import annotations

import sqlite3

import pytest

from nl2sql_agent.safety.grouping import tidy_grouping

SCHEMA = """
CREATE TABLE sales (id INTEGER PRIMARY KEY, car_id INTEGER, sale_price REAL);
INSERT INTO sales VALUES (1, 1, 100.0), (2, 1, 200.0), (3, 2, 50.0);
"""


def rows(sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(":memory:") as conn:
        conn.executescript(SCHEMA)
        return sorted(conn.execute(sql).fetchall())


def test_totals_grouped_by_a_key_nobody_asked_for_become_one_total() -> None:
    draft = "SELECT COUNT(s.id) AS n, SUM(s.sale_price) AS revenue FROM sales AS s GROUP BY s.car_id"
    question = "How many cars were sold? Return the number of sales and total revenue."
    assert rows(draft) == [(1, 50.0), (2, 300.0)]  # one unlabelled row per car
    tidied = tidy_grouping(draft, dialect="sqlite", question=question)
    assert tidied == "SELECT COUNT(s.id) AS n, SUM(s.sale_price) AS revenue FROM sales AS s"
    assert rows(tidied) == [(3, 350.0)]


@pytest.mark.parametrize(
    ("draft", "question"),
    [
        # The question asks for a breakdown.
        ("SELECT SUM(s.sale_price) FROM sales AS s GROUP BY s.car_id", "What is the revenue for each car?"),
        ("SELECT SUM(s.sale_price) FROM sales AS s GROUP BY s.car_id", "Total revenue per car"),
        ("SELECT SUM(s.sale_price) FROM sales AS s GROUP BY s.car_id", "How does revenue vary by car?"),
        # The grouping key is selected, so each row is labelled.
        ("SELECT s.car_id, SUM(s.sale_price) FROM sales AS s GROUP BY s.car_id", "What is the revenue?"),
        # The groups are ordered, cut or filtered: "the highest number of sales of any car".
        ("SELECT COUNT(*) FROM sales AS s GROUP BY s.car_id ORDER BY COUNT(*) DESC LIMIT 1", "Most sales of a car?"),
        ("SELECT COUNT(*) FROM sales AS s GROUP BY s.car_id HAVING COUNT(*) > 1", "How many sales?"),
        # A selected column that is no aggregate.
        ("SELECT s.car_id + 0, COUNT(*) FROM sales AS s GROUP BY s.car_id", "How many sales?"),
        # A window over the groups.
        ("SELECT RANK() OVER (ORDER BY SUM(s.sale_price)) FROM sales AS s GROUP BY s.car_id", "Rank revenue"),
    ],
)
def test_grouping_that_carries_meaning_is_kept(draft: str, question: str) -> None:
    assert tidy_grouping(draft, dialect="sqlite", question=question) is None


def test_subqueries_and_unparsable_drafts_are_left() -> None:
    inner = "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM sales AS s GROUP BY s.car_id) AS t"
    assert tidy_grouping(inner, dialect="sqlite", question="What is the most sales?") is None
    assert tidy_grouping("SELECT GROUP BY (", dialect="sqlite", question="How many?") is None
