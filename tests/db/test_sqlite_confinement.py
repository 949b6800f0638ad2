"""SQLite: the engine and executor alone (no validator) refuse every write, cut runaway queries, cap rows."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from nl2sql_agent.db import ReadOnlyExecutor, make_engine, verify_read_only
from nl2sql_agent.errors import (
    DatabaseUnavailableError,
    QueryExecutionError,
    QueryTimeoutError,
)
from nl2sql_agent.sample_db import SCHEMA_VERSION

RUNAWAY = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000000) SELECT count(*) FROM c"


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO regions (region_id, region_name) VALUES (99, 'Atlantis')",
        "UPDATE sales SET total_amount = 0",
        "DELETE FROM returns",
        "REPLACE INTO regions VALUES (1, 'Nowhere')",
        "DROP TABLE sales",
        "DROP INDEX ix_sales_sale_date",
        "ALTER TABLE customers ADD COLUMN note TEXT",
        "ALTER TABLE customers RENAME TO clients",
        "CREATE TABLE pwned (x INTEGER)",
        "CREATE INDEX ix_pwned ON sales (quantity)",
        "CREATE VIEW pwned AS SELECT 1",
        "CREATE TRIGGER pwned AFTER INSERT ON regions BEGIN DELETE FROM sales; END",
        "CREATE TEMP TABLE scratch (x INTEGER)",
        "CREATE TEMP VIEW scratch AS SELECT 1",
        "PRAGMA user_version = 42",
        "PRAGMA journal_mode = WAL",
        "PRAGMA writable_schema = ON",
        "PRAGMA foreign_keys = OFF",
        "PRAGMA query_only = OFF",
        "BEGIN IMMEDIATE",
        "SAVEPOINT s1",
        "ANALYZE",
        "REINDEX",
        "VACUUM",
        "SELECT load_extension('/tmp/evil')",
        "SELECT 1; DELETE FROM sales",
    ],
)
def test_writes_fail_and_change_nothing(sql: str, sqlite_executor: ReadOnlyExecutor, sample_copy: Path) -> None:
    bytes_before = file_digest(sample_copy)
    with pytest.raises(QueryExecutionError) as caught:
        sqlite_executor.run(sql, max_rows=10)
    assert caught.value.details["db_message"]
    assert sqlite_executor.run("SELECT count(*) FROM sales", max_rows=1).rows == ((40_000,),)
    sqlite_executor.engine.dispose()
    # Identical bytes: not one page of the file was touched.
    assert file_digest(sample_copy) == bytes_before
    assert sorted(p.name for p in sample_copy.parent.iterdir()) == [sample_copy.name]


def test_attach_and_vacuum_into_cannot_create_files(sqlite_executor: ReadOnlyExecutor, tmp_path: Path) -> None:
    attached, vacuumed = tmp_path / "other.db", tmp_path / "copy.db"
    for sql in (f"ATTACH DATABASE '{attached}' AS other", f"VACUUM INTO '{vacuumed}'", "DETACH DATABASE main"):
        with pytest.raises(QueryExecutionError):
            sqlite_executor.run(sql, max_rows=1)
    assert not attached.exists() and not vacuumed.exists()


def test_file_is_read_only_even_without_the_authorizer(sample_copy: Path) -> None:
    """mode=ro is an independent layer: a connection opened the same way cannot write either."""
    conn = sqlite3.connect(f"{sample_copy.resolve().as_uri()}?mode=ro", uri=True)
    with contextlib.closing(conn), pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM returns")


def test_select_queries_still_work(sqlite_executor: ReadOnlyExecutor) -> None:
    result = sqlite_executor.run(
        "WITH t AS (SELECT region_id, count(*) AS n FROM stores GROUP BY region_id) "
        "SELECT r.region_name, t.n, upper(r.region_name) AS up, (SELECT max(sale_date) FROM sales) AS last "
        "FROM regions AS r JOIN t USING (region_id) ORDER BY r.region_id",
        max_rows=10,
    )
    assert result.columns == ("region_name", "n", "up", "last")
    assert [r[0] for r in result.rows] == ["North", "South", "East", "West", "Central"]
    assert sum(r[1] for r in result.rows) == 25
    assert result.rows[0][3] == "2025-12-31"
    assert result.elapsed_ms > 0


def test_runaway_recursive_query_is_cut_and_the_connection_recovers(sqlite_executor: ReadOnlyExecutor) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as caught:
        sqlite_executor.run(RUNAWAY, max_rows=1, timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert caught.value.details["timeout_s"] == 0.5
    # The deadline belongs to that statement only: the next query on the pooled connection runs normally.
    assert sqlite_executor.run("SELECT count(*) FROM regions", max_rows=1).rows == ((5,),)


def test_engine_default_timeout_applies(sample_copy: Path) -> None:
    engine = make_engine(f"sqlite:///{sample_copy}", statement_timeout_s=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError):
            ReadOnlyExecutor(engine).run(RUNAWAY, max_rows=1)
        assert time.monotonic() - started < 3
    finally:
        engine.dispose()


def test_row_cap_sets_truncated(sqlite_executor: ReadOnlyExecutor) -> None:
    capped = sqlite_executor.run("SELECT * FROM sales ORDER BY sale_id", max_rows=10)
    assert len(capped.rows) == 10 and capped.truncated
    assert [r[0] for r in capped.rows] == list(range(1, 11))
    exact = sqlite_executor.run("SELECT region_name FROM regions", max_rows=5)
    assert len(exact.rows) == 5 and not exact.truncated
    one_short = sqlite_executor.run("SELECT region_name FROM regions", max_rows=4)
    assert len(one_short.rows) == 4 and one_short.truncated
    nothing = sqlite_executor.run("SELECT region_name FROM regions WHERE 0", max_rows=4)
    assert nothing.rows == () and not nothing.truncated and nothing.columns == ("region_name",)


def test_database_message_is_kept_for_repair(sqlite_executor: ReadOnlyExecutor) -> None:
    with pytest.raises(QueryExecutionError) as caught:
        sqlite_executor.run("SELECT nosuch FROM sales", max_rows=1)
    assert caught.value.details["db_message"] == "no such column: nosuch"
    assert caught.value.details["sql"] == "SELECT nosuch FROM sales"
    with pytest.raises(QueryExecutionError) as caught:
        sqlite_executor.run("SELECT 1; SELECT 2", max_rows=1)
    assert "one statement" in caught.value.details["db_message"]


def test_introspection_pragmas_are_readable_but_others_are_not(sqlite_executor: ReadOnlyExecutor) -> None:
    info = sqlite_executor.run("PRAGMA table_info(regions)", max_rows=10)
    assert [r[1] for r in info.rows] == ["region_id", "region_name"]
    for sql in ("PRAGMA journal_mode", "PRAGMA compile_options", "PRAGMA cache_size"):
        with pytest.raises(QueryExecutionError):
            sqlite_executor.run(sql, max_rows=10)


async def test_arun_runs_concurrently_in_threads(sqlite_executor: ReadOnlyExecutor) -> None:
    results = await asyncio.gather(
        *(sqlite_executor.arun(f"SELECT count(*) FROM sales WHERE store_id = {i}", max_rows=1) for i in range(1, 6))
    )
    counts = [r.rows[0][0] for r in results]
    assert all(c > 0 for c in counts)
    assert (
        sum(counts)
        == sqlite_executor.run("SELECT count(*) FROM sales WHERE store_id BETWEEN 1 AND 5", max_rows=1).rows[0][0]
    )


def test_verify_read_only_passes_on_a_confined_engine(sample_copy: Path) -> None:
    engine = make_engine(f"sqlite:///{sample_copy}")
    try:
        assert verify_read_only(engine) == []
    finally:
        engine.dispose()


def test_verify_read_only_reports_an_unconfined_engine_without_changing_it(
    sample_copy: Path, sqlite_data_checksum: Callable[[Path], str]
) -> None:
    before = sqlite_data_checksum(sample_copy)
    plain = sa.create_engine(f"sqlite:///{sample_copy}")
    try:
        findings = verify_read_only(plain)
    finally:
        plain.dispose()
    assert {"CREATE TABLE succeeded", "CREATE TEMP TABLE succeeded", "PRAGMA write succeeded"} <= set(findings)
    assert any(f.startswith("DELETE FROM") for f in findings)
    assert sqlite_data_checksum(sample_copy) == before
    with contextlib.closing(sqlite3.connect(sample_copy)) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'nl2sql_probe'").fetchone() == (0,)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_file_removed_after_engine_creation_is_unavailable(sample_copy: Path) -> None:
    engine = make_engine(f"sqlite:///{sample_copy}")
    sample_copy.unlink()
    with pytest.raises(DatabaseUnavailableError):
        ReadOnlyExecutor(engine).run("SELECT 1", max_rows=1)
    assert not sample_copy.exists()
    engine.dispose()


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    engine = make_engine(f"sqlite:///{junk}")
    with pytest.raises(DatabaseUnavailableError):
        ReadOnlyExecutor(engine).run("SELECT * FROM sqlite_master", max_rows=1)
    engine.dispose()


def test_explain_cost_is_none_on_sqlite(sqlite_executor: ReadOnlyExecutor) -> None:
    assert sqlite_executor.explain_cost("SELECT * FROM sales") is None


def test_argument_checks(sqlite_executor: ReadOnlyExecutor) -> None:
    with pytest.raises(ValueError, match="max_rows"):
        sqlite_executor.run("SELECT 1", max_rows=-1)
    with pytest.raises(ValueError, match="timeout_s"):
        sqlite_executor.run("SELECT 1", max_rows=1, timeout_s=0)


def test_values_become_json_friendly() -> None:
    import datetime as dt
    import decimal
    import json
    import uuid

    from nl2sql_agent.db.executor import to_json_value

    values = [
        None, True, 3, 1.5, "x", decimal.Decimal("12.30"), dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 13, 45),
        dt.time(8, 30), dt.timedelta(minutes=2), b"\x00\xff", bytearray(b"\x01"), memoryview(b"\x02"),
        (decimal.Decimal("1"), dt.date(2024, 1, 1)), {"k": [1]}, uuid.UUID(int=1), complex(1, 2),
    ]  # fmt: skip
    converted = [to_json_value(v) for v in values]
    assert converted == [
        None, True, 3, 1.5, "x", 12.3, "2024-02-29", "2024-02-29T13:45:00", "08:30:00", 120.0, "00ff", "01", "02",
        [1.0, "2024-01-01"], {"k": [1]}, "00000000-0000-0000-0000-000000000001", "(1+2j)",
    ]  # fmt: skip
    json.dumps(converted)
