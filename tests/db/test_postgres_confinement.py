"""PostgreSQL: read-only sessions and transactions, a restricted role, timeouts, row caps, error mapping."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from nl2sql_agent.db import ReadOnlyExecutor, make_engine, reflect_catalog, verify_read_only
from nl2sql_agent.errors import (
    ConfigurationError,
    DatabaseUnavailableError,
    QueryExecutionError,
    QueryTimeoutError,
)

pytestmark = pytest.mark.postgres

WRITES = [
    "INSERT INTO regions (region_id, region_name) VALUES (99, 'Atlantis')",
    "UPDATE sales SET total_amount = 0",
    "DELETE FROM returns",
    "TRUNCATE returns",
    "DROP TABLE returns CASCADE",
    "ALTER TABLE customers ADD COLUMN note text",
    "CREATE TABLE pwned (x integer)",
    "CREATE TEMP TABLE scratch (x integer)",
    "CREATE INDEX ix_pwned ON sales (quantity)",
    "COPY regions FROM STDIN",
    "WITH gone AS (DELETE FROM returns RETURNING *) SELECT count(*) FROM gone",
    "SELECT 1; DELETE FROM returns",
    "SELECT * INTO pwned FROM regions",
    "COMMIT",
    "SET default_transaction_read_only = off",
    "GRANT ALL ON sales TO PUBLIC",
    "SELECT set_config('transaction_read_only', 'off', true)",
]


@pytest.fixture
def data_before(pg_sample_url: str, pg_data_state: Callable[[str], dict[str, str]]) -> Iterator[dict[str, str]]:
    """The sample tables' counts and checksums, checked unchanged after the test."""
    before = pg_data_state(pg_sample_url)
    yield before
    assert pg_data_state(pg_sample_url) == before


@pytest.mark.parametrize("sql", WRITES)
def test_writes_fail_and_change_nothing(sql: str, pg_executor: ReadOnlyExecutor, data_before: dict[str, str]) -> None:
    with pytest.raises(QueryExecutionError) as caught:
        pg_executor.run(sql, max_rows=10)
    assert caught.value.details["db_message"]
    assert caught.value.details["sqlstate"]


def test_session_itself_is_read_only_without_the_executor(pg_sample_url: str, data_before: dict[str, str]) -> None:
    """The engine's sessions refuse writes even through plain SQLAlchemy, with no SET TRANSACTION."""
    engine = make_engine(pg_sample_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW default_transaction_read_only")).scalar_one() == "on"
            assert conn.execute(sa.text("SHOW statement_timeout")).scalar_one() == "10s"
            with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
                conn.execute(sa.text("DELETE FROM returns"))
    finally:
        engine.dispose()


def test_side_effects_of_a_select_are_rolled_back(pg_executor: ReadOnlyExecutor) -> None:
    changed = pg_executor.run("SELECT set_config('default_transaction_read_only', 'off', false)", max_rows=1)
    assert changed.rows == (("off",),)
    # The change was rolled back with the transaction: the pooled session is still read-only.
    for _ in range(3):
        shown = pg_executor.run("SELECT current_setting('default_transaction_read_only')", max_rows=1)
        assert shown.rows == (("on",),)


def test_writes_a_read_only_transaction_allows_are_rolled_back(pg_executor: ReadOnlyExecutor) -> None:
    """PostgreSQL lets lo_create run in a READ ONLY transaction; the executor's rollback undoes it."""
    count = "SELECT count(*) FROM pg_largeobject_metadata"
    before = pg_executor.run(count, max_rows=1).rows
    created = pg_executor.run("SELECT lo_create(0)", max_rows=1).rows[0][0]
    assert isinstance(created, int) and created > 0
    assert pg_executor.run(count, max_rows=1).rows == before


def test_pg_sleep_is_cut_by_the_timeout(pg_executor: ReadOnlyExecutor) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as caught:
        pg_executor.run("SELECT pg_sleep(10)", max_rows=1, timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert caught.value.details["sqlstate"] == "57014"
    # SET LOCAL ended with the transaction: the next statement gets the engine's default again.
    assert pg_executor.run("SELECT current_setting('statement_timeout')", max_rows=1).rows == (("5s",),)


def test_engine_default_timeout_applies(pg_sample_url: str) -> None:
    engine = make_engine(pg_sample_url, statement_timeout_s=0.4)
    try:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError):
            ReadOnlyExecutor(engine).run("SELECT pg_sleep(5)", max_rows=1)
        assert time.monotonic() - started < 3
    finally:
        engine.dispose()


def test_row_cap_sets_truncated_and_values_are_json_friendly(pg_executor: ReadOnlyExecutor) -> None:
    capped = pg_executor.run("SELECT sale_id, sale_date, total_amount FROM sales ORDER BY sale_id", max_rows=3)
    assert capped.truncated and capped.columns == ("sale_id", "sale_date", "total_amount")
    assert [r[0] for r in capped.rows] == [1, 2, 3]
    assert all(isinstance(r[1], str) and isinstance(r[2], float) for r in capped.rows)
    assert capped.rows[0][1] == "2023-01-01"
    exact = pg_executor.run("SELECT region_name FROM regions", max_rows=5)
    assert len(exact.rows) == 5 and not exact.truncated
    typed = pg_executor.run(
        "SELECT DATE '2024-02-29' AS d, TIMESTAMP '2024-02-29 13:45:00' AS ts, interval '90 minutes' AS iv, "
        "12.50::numeric AS n, ARRAY[1.5::numeric, 2] AS arr, '\\xdead'::bytea AS b, "
        "'6f1d2f5e-8a5b-4f43-9c57-0f8bd5b7c111'::uuid AS u, '{\"a\": 1}'::jsonb AS j",
        max_rows=1,
    )
    assert typed.rows == (
        (
            "2024-02-29",
            "2024-02-29T13:45:00",
            5400.0,
            12.5,
            [1.5, 2.0],
            "dead",
            "6f1d2f5e-8a5b-4f43-9c57-0f8bd5b7c111",
            {"a": 1},
        ),
    )


def test_database_message_points_into_the_callers_sql(pg_executor: ReadOnlyExecutor) -> None:
    with pytest.raises(QueryExecutionError) as caught:
        pg_executor.run("SELECT nosuch FROM sales", max_rows=1)
    message = caught.value.details["db_message"]
    assert message.startswith('column "nosuch" does not exist')
    assert "at character 8: 'nosuch FROM sales'" in message
    assert caught.value.details["sqlstate"] == "42703"
    with pytest.raises(QueryExecutionError) as caught:
        pg_executor.run("SELECT s.total FROM sales AS s", max_rows=1)
    assert "column s.total does not exist" in caught.value.details["db_message"]


def test_explain_cost_plans_without_running(pg_executor: ReadOnlyExecutor, data_before: dict[str, str]) -> None:
    cheap = pg_executor.explain_cost("SELECT * FROM regions WHERE region_id = 1")
    costly = pg_executor.explain_cost("SELECT * FROM sales AS a CROSS JOIN sales AS b")
    assert cheap is not None and costly is not None
    assert 0 < cheap < costly
    assert pg_executor.explain_cost("DELETE FROM returns") is not None  # planned, never executed
    for bad in ("SELECT nosuch FROM sales", "SELECT 1; DELETE FROM returns"):
        with pytest.raises(QueryExecutionError):
            pg_executor.explain_cost(bad)


async def test_arun_works(pg_executor: ReadOnlyExecutor) -> None:
    result = await pg_executor.arun("SELECT count(*) FROM customers", max_rows=1)
    assert result.rows == ((3000,),)


def test_verify_read_only_on_the_confined_engine(pg_sample_url: str, data_before: dict[str, str]) -> None:
    engine = make_engine(pg_sample_url)
    try:
        assert verify_read_only(engine) == []
        # The admin role itself could write if read-only mode were switched off: the check says so.
        escalated = verify_read_only(engine, check_privileges=True)
    finally:
        engine.dispose()
    assert "CREATE TABLE succeeded (after SET TRANSACTION READ WRITE)" in escalated
    assert any(f.startswith("DELETE FROM public.") for f in escalated)


def test_restricted_role_cannot_write_or_read_hidden_columns(
    pg_readonly_role: str, data_before: dict[str, str]
) -> None:
    engine = make_engine(pg_readonly_role)
    executor = ReadOnlyExecutor(engine)
    try:
        # Even with read-only mode switched off, only TEMP (granted to PUBLIC by PostgreSQL) remains.
        assert verify_read_only(engine) == []
        assert verify_read_only(engine, check_privileges=True) == [
            "CREATE TEMP TABLE succeeded (after SET TRANSACTION READ WRITE)"
        ]
        assert executor.run("SELECT first_name, city FROM customers ORDER BY customer_id", max_rows=1).rows
        for sql in ("SELECT email FROM customers", "SELECT * FROM customers", "SELECT max(salary) FROM employees"):
            with pytest.raises(QueryExecutionError) as caught:
                executor.run(sql, max_rows=1)
            assert caught.value.details["sqlstate"] == "42501"
        with engine.connect() as conn:
            conn.execute(sa.text("SET TRANSACTION READ WRITE"))
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text("DELETE FROM returns"))
        catalog = reflect_catalog(engine)
    finally:
        engine.dispose()
    customers = catalog.table("customers")
    assert customers is not None
    assert customers.column("email") is None and customers.column("phone") is None
    assert customers.column("first_name") is not None
    assert catalog.table("employees").column("salary") is None  # type: ignore[union-attr]
    assert catalog.table("sales") is not None


def test_restricted_role_limited_to_some_tables(pg_sample_url: str) -> None:
    import uuid

    from nl2sql_agent.db import create_readonly_role, drop_role

    role = f"nl2sql_test_ro_{uuid.uuid4().hex[:8]}"
    create_readonly_role(pg_sample_url, role, tables=["regions", "public.stores"], login=True, password="s3cret")
    url = sa.make_url(pg_sample_url).set(username=role).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        assert sorted(reflect_catalog(engine).tables) == ["regions", "stores"]
        with pytest.raises(QueryExecutionError):
            ReadOnlyExecutor(engine).run("SELECT count(*) FROM sales", max_rows=1)
    finally:
        engine.dispose()
        drop_role(pg_sample_url, role)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"tables": ["no_such_table"]}, "not found"), ({"hidden_columns": ["customers.nope"]}, "does not exist")],
)
def test_create_readonly_role_rejects_unknown_names(pg_sample_url: str, kwargs: dict, match: str) -> None:
    from nl2sql_agent.db import create_readonly_role

    with pytest.raises(ConfigurationError, match=match):
        create_readonly_role(pg_sample_url, "nl2sql_test_never_created", **kwargs)


def test_hints_from_the_server_are_kept(pg_executor: ReadOnlyExecutor) -> None:
    with pytest.raises(QueryExecutionError) as caught:
        pg_executor.run("SELECT s.sale_idd FROM sales AS s", max_rows=1)
    assert 'HINT: Perhaps you meant to reference the column "s.sale_id"' in caught.value.details["db_message"]


async def test_connection_killed_mid_query_is_unavailable_then_recovers(
    pg_executor: ReadOnlyExecutor, pg_sample_url: str
) -> None:
    import asyncio

    import psycopg

    running = asyncio.create_task(pg_executor.arun("SELECT pg_sleep(5)", max_rows=1))
    with psycopg.connect(pg_sample_url, autocommit=True) as admin:
        for _ in range(100):
            await asyncio.sleep(0.05)
            # Only this session's database is searched: nobody else's connection can be hit.
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'nl2sql_agent' AND state = 'active' AND query LIKE 'FETCH%%'"
            ).fetchall()
            if killed:
                break
    assert killed == [(True,)]
    with pytest.raises(DatabaseUnavailableError) as caught:
        await running
    assert caught.value.details["sqlstate"] == "57P01"
    # The dead connection was discarded: the next query gets a fresh one.
    assert pg_executor.run("SELECT 1", max_rows=1).rows == ((1,),)
