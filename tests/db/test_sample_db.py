"""The bundled sample database: shape, realism, determinism, atomic builds and the PostgreSQL copy."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlglot

from nl2sql_agent.db import ReadOnlyExecutor, make_engine
from nl2sql_agent.sample_db import (
    SAMPLE_QUESTIONS,
    SCHEMA_VERSION,
    TABLE_NAMES,
    ensure_sample_sqlite,
    generate_rows,
    load_sample_into,
)


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def test_sample_has_the_documented_shape(sample_db_path: Path) -> None:
    counts = {t: query(sample_db_path, f"SELECT count(*) FROM {t}")[0][0] for t in TABLE_NAMES}
    assert counts["regions"] == 5
    assert counts["stores"] == 25
    assert counts["customers"] == 3000
    assert counts["product_categories"] == 8
    assert counts["products"] == 150
    assert counts["employees"] == 120
    assert counts["sales"] == 40_000
    assert 1800 <= counts["returns"] <= 2300
    assert query(sample_db_path, "SELECT min(sale_date), max(sale_date) FROM sales") == [("2023-01-01", "2025-12-31")]
    assert query(sample_db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_sample_rows_are_consistent(sample_db_path: Path) -> None:
    assert query(sample_db_path, "PRAGMA foreign_key_check") == []
    assert query(sample_db_path, "PRAGMA integrity_check") == [("ok",)]
    # Amounts follow the documented formula, to the cent.
    for quantity, price, discount, total in query(
        sample_db_path, "SELECT quantity, unit_price, discount, total_amount FROM sales"
    ):
        assert math.isclose(round(quantity * price * (1 - discount), 2), total, abs_tol=0.005)
    assert query(sample_db_path, "SELECT count(*) FROM sales AS s JOIN products AS p USING (product_id) "
                                 "WHERE s.product_name <> p.product_name") == [(0,)]  # fmt: skip
    bad_returns = (
        "SELECT count(*) FROM returns AS r JOIN sales AS s USING (sale_id) "
        "WHERE r.return_date <= s.sale_date OR r.return_date > '2025-12-31' "
        "OR r.refund_amount > s.total_amount OR r.quantity > s.quantity"
    )
    assert query(sample_db_path, bad_returns) == [(0,)]
    # Nobody buys before signing up, and no store sells before it opens.
    assert query(sample_db_path, "SELECT count(*) FROM sales AS s JOIN customers AS c USING (customer_id) "
                                 "WHERE s.sale_date < c.signup_date") == [(0,)]  # fmt: skip
    assert query(sample_db_path, "SELECT count(*) FROM sales AS s JOIN stores AS st USING (store_id) "
                                 "WHERE s.sale_date < st.opened_on") == [(0,)]  # fmt: skip
    assert query(sample_db_path, "SELECT count(*) FROM sales AS s JOIN employees AS e USING (employee_id) "
                                 "WHERE e.store_id IS NOT s.store_id") == [(0,)]  # fmt: skip
    walk_ins = query(sample_db_path, "SELECT count(*) FROM sales WHERE customer_id IS NULL")[0][0]
    assert 0.05 * 40_000 < walk_ins < 0.2 * 40_000


def test_sales_have_seasonality_and_growth(sample_db_path: Path) -> None:
    by_month = dict(
        query(sample_db_path, "SELECT strftime('%Y-%m', sale_date), sum(total_amount) FROM sales GROUP BY 1")
    )
    for year in (2023, 2024, 2025):
        assert by_month[f"{year}-12"] > 1.5 * by_month[f"{year}-02"]
    by_year = dict(query(sample_db_path, "SELECT strftime('%Y', sale_date), count(*) FROM sales GROUP BY 1"))
    assert by_year["2023"] < by_year["2024"] < by_year["2025"]


def test_generated_rows_depend_on_the_seed(sample_db_path: Path) -> None:
    """The file's rows are exactly the generator's, and another seed gives other rows."""
    stored = query(sample_db_path, "SELECT * FROM sales ORDER BY sale_id LIMIT 200")
    assert generate_rows(seed=1)["sales"][:200] != stored


def test_two_builds_hold_identical_data(
    tmp_path: Path, sample_db_path: Path, sqlite_data_checksum: Callable[[Path], str]
) -> None:
    rebuilt = ensure_sample_sqlite(tmp_path / "again" / "retail.db")
    assert sqlite_data_checksum(rebuilt) == sqlite_data_checksum(sample_db_path)
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    assert query(rebuilt, schema) == query(sample_db_path, schema)


def test_ensure_reuses_a_current_file_and_rebuilds_a_stale_one(tmp_path: Path, sample_db_path: Path) -> None:
    target = tmp_path / "retail.db"
    target.write_bytes(sample_db_path.read_bytes())
    before = target.stat().st_mtime_ns
    assert ensure_sample_sqlite(target) == target
    assert target.stat().st_mtime_ns == before

    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("PRAGMA user_version = 0")
        conn.execute("DELETE FROM returns")
        conn.commit()
    ensure_sample_sqlite(target)
    assert query(target, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert query(target, "SELECT count(*) FROM returns")[0][0] > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retail.db"], "no temporary file is left behind"


def test_sample_questions_run_and_answer(sample_db_url: str) -> None:
    engine = make_engine(sample_db_url)
    executor = ReadOnlyExecutor(engine)
    assert len(SAMPLE_QUESTIONS) >= 10
    answers = {q.question: executor.run(q.sql, max_rows=100) for q in SAMPLE_QUESTIONS}
    engine.dispose()
    assert all(result.rows and not result.truncated for result in answers.values())
    assert answers["How many customers do we have?"].rows == ((3000,),)
    top = answers["What were the top 5 products by revenue in 2024?"]
    assert len(top.rows) == 5
    assert [r[1] for r in top.rows] == sorted((r[1] for r in top.rows), reverse=True)
    regions = answers["What was the total revenue by region in 2025?"]
    assert {r[0] for r in regions.rows} == {"North", "South", "East", "West", "Central"}
    months = answers["What was the average order value per month in 2024?"]
    assert [r[0] for r in months.rows] == [f"2024-{m:02d}" for m in range(1, 13)]


@pytest.mark.postgres
def test_postgres_copy_matches_sqlite_row_for_row(pg_sample_url: str, sample_db_url: str) -> None:
    sqlite_engine, pg_engine = make_engine(sample_db_url), make_engine(pg_sample_url)
    lite, pg = ReadOnlyExecutor(sqlite_engine), ReadOnlyExecutor(pg_engine)
    try:
        for table in TABLE_NAMES:
            sql = f"SELECT * FROM {table} ORDER BY 1"
            expected = lite.run(sql, max_rows=50_000)
            got = pg.run(sql, max_rows=50_000)
            assert got.columns == expected.columns
            assert len(got.rows) == len(expected.rows) > 0
            assert got.rows == expected.rows, table
    finally:
        sqlite_engine.dispose()
        pg_engine.dispose()


@pytest.mark.postgres
def test_sample_questions_give_the_same_answers_on_postgres(pg_sample_url: str, sample_db_url: str) -> None:
    sqlite_engine, pg_engine = make_engine(sample_db_url), make_engine(pg_sample_url)
    lite, pg = ReadOnlyExecutor(sqlite_engine), ReadOnlyExecutor(pg_engine)
    try:
        for q in SAMPLE_QUESTIONS:
            pg_sql = sqlglot.transpile(q.sql, read="sqlite", write="postgres")[0]
            expected, got = lite.run(q.sql, max_rows=100).rows, pg.run(pg_sql, max_rows=100).rows
            assert len(got) == len(expected), q.question
            # Golds order only where the question asks: compare unordered results sorted.
            for row_pg, row_lite in zip(sorted(got, key=repr), sorted(expected, key=repr), strict=True):
                for a, b in zip(row_pg, row_lite, strict=True):
                    assert a == pytest.approx(b, abs=0.011) if isinstance(b, float) else a == b, q.question
    finally:
        sqlite_engine.dispose()
        pg_engine.dispose()


@pytest.mark.postgres
def test_postgres_load_replaces_existing_tables_and_keeps_keys(pg_sample_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_sample_url) as conn:
        # A stale copy with the wrong shape, and a dependent view, must not stop a reload.
        conn.execute("CREATE SCHEMA reload_check")
        conn.execute("CREATE TABLE reload_check.sales (sale_id text, junk int)")
        conn.execute("CREATE VIEW reload_check.v AS SELECT * FROM reload_check.sales")
        conn.commit()
    load_sample_into(pg_sample_url, schema="reload_check")
    with psycopg.connect(pg_sample_url) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM reload_check.{t}").fetchone()[0] for t in TABLE_NAMES}
        fks = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'reload_check'::regnamespace"
        ).fetchone()[0]
        indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 'reload_check'").fetchone()[0]
        comment = conn.execute("SELECT col_description('reload_check.sales'::regclass, 11)").fetchone()[0]
        sale_date_type = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = 'reload_check' AND table_name = 'sales' AND column_name = 'sale_date'"
        ).fetchone()[0]
        conn.execute("DROP SCHEMA reload_check CASCADE")
        conn.commit()
    assert counts["sales"] == 40_000 and counts["customers"] == 3000 and counts["returns"] > 1800
    assert fks == 10
    assert indexes >= 8 + 13  # a primary key per table, plus indexes on foreign keys and dates
    assert comment is not None and "Revenue" in comment
    assert sale_date_type == "date"


def test_load_into_unreachable_postgres_is_a_typed_error() -> None:
    from nl2sql_agent.errors import DatabaseUnavailableError

    with pytest.raises(DatabaseUnavailableError):
        load_sample_into("postgresql://postgres@127.0.0.1:1/nowhere")


def test_dates_are_fixed_not_relative_to_today(sample_db_path: Path) -> None:
    latest = max(
        query(sample_db_path, "SELECT max(sale_date) FROM sales")[0][0],
        query(sample_db_path, "SELECT max(return_date) FROM returns")[0][0],
        query(sample_db_path, "SELECT max(signup_date) FROM customers")[0][0],
    )
    assert dt.date.fromisoformat(latest) <= dt.date(2025, 12, 31)
