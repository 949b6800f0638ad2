"""Ordering tidying: an unordered breakdown comes by time when it is over time, else largest first."""

from __future__ import annotations

import sqlite3

import pytest

from nl2sql_agent.safety.ordering import tidy_ordering

SCHEMA = """
CREATE TABLE publication (pid INTEGER PRIMARY KEY, journal TEXT, year INTEGER, published TEXT);
INSERT INTO publication VALUES (1, 'Alpha', 2022, '2022-03-01'), (2, 'Beta', 2021, '2021-05-02'),
    (3, 'Beta', 2021, '2021-06-01'), (4, 'Gamma', 2020, '2020-01-09'), (5, 'Gamma', 2022, '2022-08-08'),
    (6, 'Gamma', 2022, '2022-09-09');
"""


def rows(sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(":memory:") as conn:
        conn.executescript(SCHEMA)
        return conn.execute(sql).fetchall()


def test_a_breakdown_comes_largest_first() -> None:
    draft = "SELECT p.journal, COUNT(*) AS n FROM publication AS p GROUP BY p.journal"
    assert rows(draft)[0] == ("Alpha", 1)  # SQLite's own order: by the grouping key
    tidied = tidy_ordering(draft, dialect="sqlite")
    assert tidied == draft + " ORDER BY n DESC"
    assert rows(tidied) == [("Gamma", 3), ("Beta", 2), ("Alpha", 1)]
    # An unaliased measure is ordered by itself.
    bare = "SELECT p.journal, COUNT(*) FROM publication AS p GROUP BY p.journal"
    assert tidy_ordering(bare, dialect="sqlite") == bare + " ORDER BY COUNT(*) DESC"


@pytest.mark.parametrize(
    "draft",
    [
        "SELECT p.year, COUNT(*) AS n FROM publication AS p GROUP BY p.year",
        "SELECT STRFTIME('%Y-%m', p.published) AS month, COUNT(*) FROM publication AS p GROUP BY month",
        "SELECT STRFTIME('%Y', p.published), COUNT(*) FROM publication AS p GROUP BY STRFTIME('%Y', p.published)",
    ],
)
def test_a_breakdown_over_time_comes_in_time_order(draft: str) -> None:
    tidied = tidy_ordering(draft, dialect="sqlite")
    assert tidied is not None and " DESC" not in tidied
    labels = [row[0] for row in rows(tidied)]
    assert labels == sorted(labels)
    assert tidied.split(" GROUP BY ")[1].split(" ORDER BY ")[0] == tidied.split(" ORDER BY ")[1]


@pytest.mark.parametrize(
    "draft",
    [
        "SELECT p.journal, COUNT(*) AS n FROM publication AS p GROUP BY p.journal ORDER BY p.journal",  # ordered
        "SELECT p.journal, COUNT(*) AS n FROM publication AS p GROUP BY p.journal LIMIT 2",  # cut as written
        "SELECT COUNT(*) AS n FROM publication AS p GROUP BY p.journal",  # no labels
        "SELECT p.journal FROM publication AS p GROUP BY p.journal",  # no measure
        "SELECT p.journal, COUNT(*) FROM publication AS p",  # no breakdown
        "SELECT p.journal, RANK() OVER (ORDER BY COUNT(*)) FROM publication AS p GROUP BY p.journal",  # a window
    ],
)
def test_ordered_cut_or_unlabelled_results_are_left(draft: str) -> None:
    assert tidy_ordering(draft, dialect="sqlite") is None
