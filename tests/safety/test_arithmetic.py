"""Arithmetic tidying on a real SQLite database: integer ratios made real, numeric years and epochs read."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from heroes_db import sqlite_database

from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.safety.arithmetic import tidy_arithmetic

SCHEMA = """
CREATE TABLE organization (oid INTEGER PRIMARY KEY, continent TEXT, revenue REAL);
CREATE TABLE author (aid INTEGER PRIMARY KEY, oid INTEGER REFERENCES organization(oid), papers INTEGER);
CREATE TABLE publication (pid INTEGER PRIMARY KEY, year INTEGER, title TEXT);
CREATE TABLE flight (flight_id INTEGER PRIMARY KEY, departure_time INTEGER, label TEXT);
INSERT INTO organization VALUES (1, 'Asia', 10.0), (2, 'Asia', 5.0), (3, 'Europe', 1.0);
INSERT INTO author VALUES (1, 1, 3), (2, 1, 4), (3, 2, 1), (4, 3, 2);
INSERT INTO publication VALUES (1, 2021, 'a'), (2, 2021, 'b'), (3, 2022, 'c');
INSERT INTO flight VALUES (1, 1700000000, 'x'), (2, 1710000000, 'y');
CREATE TABLE session (id INTEGER PRIMARY KEY, started TIMESTAMP, ended TIMESTAMP, note TEXT);
INSERT INTO session VALUES (1, '2024-01-30 10:00:00', '2024-02-02 10:30:00', '2024-01-01');
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SchemaCatalog]]:
    yield from sqlite_database(tmp_path_factory.mktemp("arithmetic"), SCHEMA)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return sorted(conn.execute(sql).fetchall())


def test_a_ratio_of_counts_is_computed_in_real_numbers(db: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = db
    draft = (
        "SELECT o.continent, COUNT(DISTINCT a.aid) / COUNT(DISTINCT o.oid) AS ratio FROM organization AS o "
        "JOIN author AS a ON a.oid = o.oid GROUP BY o.continent"
    )
    assert rows(path, draft) == [("Asia", 1), ("Europe", 1)]  # 3 / 2 truncated to 1
    tidied = tidy_arithmetic(draft, dialect="sqlite", catalog=catalog)
    assert tidied is not None and "CAST(COUNT(DISTINCT a.aid) AS REAL) / COUNT(DISTINCT o.oid)" in tidied
    assert rows(path, tidied) == [("Asia", 1.5), ("Europe", 1.0)]


@pytest.mark.parametrize(
    "draft",
    [
        "SELECT SUM(a.papers) / COUNT(*) FROM author AS a",  # sums of an INTEGER column
        "SELECT SUM(a.papers / a.oid) FROM author AS a",  # integer columns
        "SELECT SUM(CASE WHEN a.papers > 2 THEN 1 ELSE 0 END) * 100 / COUNT(DISTINCT a.oid) FROM author AS a",
    ],
)
def test_integer_quotients_of_columns_and_aggregates_are_made_real(db: tuple[Path, SchemaCatalog], draft: str) -> None:
    path, catalog = db
    tidied = tidy_arithmetic(draft, dialect="sqlite", catalog=catalog)
    assert tidied is not None and "AS REAL)" in tidied
    (before,), (after,) = rows(path, draft)[0], rows(path, tidied)[0]
    assert isinstance(before, int) and isinstance(after, float) and after != before


@pytest.mark.parametrize(
    ("draft", "question"),
    [
        ("SELECT SUM(o.revenue) / COUNT(*) FROM organization AS o", ""),  # REAL already
        ("SELECT CAST(COUNT(*) AS REAL) / COUNT(DISTINCT a.oid) FROM author AS a", ""),  # cast by the draft
        ("SELECT SUM(a.papers) / 60 FROM author AS a", ""),  # a literal divisor: a unit conversion
        ("SELECT COUNT(*) / COUNT(DISTINCT a.oid) FROM author AS a", "Give the answer as an integer"),
        ("SELECT a.label / a.oid FROM flight AS a", ""),  # unknown column: no guess
    ],
)
def test_divisions_that_are_already_real_or_meant_whole_are_left(
    db: tuple[Path, SchemaCatalog], draft: str, question: str
) -> None:
    assert tidy_arithmetic(draft, dialect="sqlite", catalog=db[1], question=question) is None


def test_postgres_casts_to_double_precision(db: tuple[Path, SchemaCatalog]) -> None:
    catalog = SchemaCatalog("postgres", db[1].tables)
    tidied = tidy_arithmetic(
        "SELECT COUNT(*) / COUNT(DISTINCT a.oid) FROM author AS a", dialect="postgres", catalog=catalog
    )
    assert tidied == "SELECT CAST(COUNT(*) AS DOUBLE PRECISION) / COUNT(DISTINCT a.oid) FROM author AS a"


def test_a_year_held_as_a_number_is_the_year(db: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = db
    draft = (
        "SELECT STRFTIME('%Y', p.year) AS y, COUNT(*) FROM publication AS p "
        "WHERE STRFTIME('%Y', p.year) = '2021' GROUP BY STRFTIME('%Y', p.year)"
    )
    assert rows(path, draft) == []  # 2021 read as a Julian day: a year in 4708 BC
    tidied = tidy_arithmetic(draft, dialect="sqlite", catalog=catalog)
    assert tidied == "SELECT p.year AS y, COUNT(*) FROM publication AS p WHERE p.year = '2021' GROUP BY p.year"
    assert rows(path, tidied) == [(2021, 2)]


def test_a_unix_epoch_gets_its_modifier(db: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = db
    draft = "SELECT STRFTIME('%Y-%m', f.departure_time) AS m, COUNT(*) FROM flight AS f GROUP BY m"
    tidied = tidy_arithmetic(draft, dialect="sqlite", catalog=catalog)
    assert tidied == (
        "SELECT STRFTIME('%Y-%m', f.departure_time, 'unixepoch') AS m, COUNT(*) FROM flight AS f GROUP BY m"
    )
    assert rows(path, tidied) == [("2023-11", 1), ("2024-03", 1)]


@pytest.mark.parametrize(
    "draft",
    [
        "SELECT STRFTIME('%Y', f.label) FROM flight AS f",  # text: SQLite reads it as a date string
        "SELECT STRFTIME('%Y', f.flight_id) FROM flight AS f",  # a number that names no time
        "SELECT STRFTIME('%Y', f.departure_time, 'unixepoch') FROM flight AS f",  # already read as an epoch
    ],
)
def test_dates_held_as_text_or_read_right_are_left(db: tuple[Path, SchemaCatalog], draft: str) -> None:
    assert tidy_arithmetic(draft, dialect="sqlite", catalog=db[1]) is None


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How long did sessions last on average, in days?", 3.0208333),
        ("What was the average session duration in seconds?", 261000.0),
        ("What was the average session duration in minutes?", 4350.0),
        ("How many hours did sessions last?", 72.5),
    ],
)
def test_dates_subtracted_as_text_become_julian_day_differences(
    db: tuple[Path, SchemaCatalog], question: str, expected: float
) -> None:
    path, catalog = db
    draft = "SELECT AVG(s.ended - s.started) FROM session AS s"
    assert rows(path, draft) == [(0.0,)]  # 2024 - 2024: the strings' leading numbers
    tidied = tidy_arithmetic(draft, dialect="sqlite", catalog=catalog, question=question)
    assert tidied is not None and "JULIANDAY(s.ended) - JULIANDAY(s.started)" in tidied
    assert rows(path, tidied)[0][0] == pytest.approx(expected, rel=1e-6)


def test_only_two_date_columns_make_a_date_difference(db: tuple[Path, SchemaCatalog]) -> None:
    catalog = db[1]
    for draft in (
        "SELECT s.ended - s.note FROM session AS s",  # a TEXT column, whatever it holds
        "SELECT s.id - s.id FROM session AS s",
        "SELECT JULIANDAY(s.ended) - JULIANDAY(s.started) FROM session AS s",  # already days
    ):
        assert tidy_arithmetic(draft, dialect="sqlite", catalog=catalog) is None
    assert tidy_arithmetic("SELECT MAX(s.ended) - MIN(s.started) FROM session AS s", dialect="sqlite", catalog=catalog)
