"""Gold alternative expansion, and read-only, time-limited execution on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nl2sql_agent.evals.execution import ExecutionFailed, run_query
from nl2sql_agent.evals.gold import expand_gold, split_statements


def test_semicolon_alternatives() -> None:
    assert expand_gold("SELECT a FROM t; SELECT b FROM t;") == ["SELECT a FROM t", "SELECT b FROM t"]


def test_brace_column_choices_expand_to_every_nonempty_combination() -> None:
    assert expand_gold("SELECT {u.id, u.name} FROM u") == [
        "SELECT u.id FROM u",
        "SELECT u.name FROM u",
        "SELECT u.id, u.name FROM u",
    ]


def test_group_by_placeholder_takes_the_chosen_columns() -> None:
    assert expand_gold("SELECT {a, b}, COUNT(*) FROM t GROUP BY {}") == [
        "SELECT a, COUNT(*) FROM t GROUP BY a",
        "SELECT b, COUNT(*) FROM t GROUP BY b",
        "SELECT a, b, COUNT(*) FROM t GROUP BY a, b",
    ]


def test_every_brace_group_expands() -> None:
    assert len(expand_gold("SELECT {a, b} FROM t WHERE x IN (SELECT {c, d} FROM u)")) == 9


def test_separators_inside_quotes_are_text() -> None:
    assert split_statements("SELECT 'a;b' AS x; SELECT \"c;d\" FROM t") == ["SELECT 'a;b' AS x", 'SELECT "c;d" FROM t']
    assert expand_gold("SELECT 'it''s {x}; fine' AS s") == ["SELECT 'it''s {x}; fine' AS s"]


def test_duplicates_are_dropped() -> None:
    assert expand_gold("SELECT 1; SELECT 1") == ["SELECT 1"]


def test_rows_and_columns(tiny_db: Path) -> None:
    got = run_query(tiny_db, "SELECT name, population FROM city WHERE country = 'NO' ORDER BY id")
    assert got.columns == ("name", "population")
    assert got.rows == [("Oslo", 700000), ("Bergen", 285000)]
    assert not got.truncated


def test_connection_is_read_only(tiny_db: Path) -> None:
    with pytest.raises(ExecutionFailed) as failure:
        run_query(tiny_db, "DELETE FROM city")
    assert failure.value.kind == "readonly"
    assert sqlite3.connect(tiny_db).execute("SELECT COUNT(*) FROM city").fetchone() == (5,)


def test_timeout_interrupts_a_runaway_query(tiny_db: Path) -> None:
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT MAX(x) FROM n"
    with pytest.raises(ExecutionFailed) as failure:
        run_query(tiny_db, endless, timeout_s=0.2)
    assert failure.value.kind == "timeout"


def test_row_cap_marks_truncation(tiny_db: Path) -> None:
    got = run_query(tiny_db, "SELECT id FROM city", max_rows=3)
    assert got.truncated and len(got.rows) == 3


def test_errors_and_missing_files(tiny_db: Path, tmp_path: Path) -> None:
    with pytest.raises(ExecutionFailed) as failure:
        run_query(tiny_db, "SELECT nope FROM city")
    assert failure.value.kind == "error"
    with pytest.raises(ExecutionFailed) as missing:
        run_query(tmp_path / "absent.sqlite", "SELECT 1")
    assert missing.value.kind == "unavailable"
    assert not (tmp_path / "absent.sqlite").exists()  # read-only open never creates a file
