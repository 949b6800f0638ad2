"""Schema reflection on SQLite and PostgreSQL: tables, types, keys, comments, row counts, samples."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from nl2sql_agent.db import ForeignKey, SchemaCatalog, make_engine, reflect_catalog
from nl2sql_agent.db.catalog import MAX_SAMPLE_CHARS
from nl2sql_agent.sample_db import TABLE_NAMES


@pytest.fixture(scope="module")
def sqlite_catalog(sample_db_url: str) -> SchemaCatalog:
    engine = make_engine(sample_db_url)
    try:
        return reflect_catalog(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pg_catalog(pg_sample_url: str) -> SchemaCatalog:
    engine = make_engine(pg_sample_url)
    try:
        return reflect_catalog(engine)
    finally:
        engine.dispose()


def check_sample_catalog(catalog: SchemaCatalog) -> None:
    """What both backends must report about the sample database."""
    assert sorted(catalog.tables) == sorted(TABLE_NAMES)
    sales = catalog.table("SALES")
    assert sales is not None
    assert sales.comment is not None and "One row per sale" in sales.comment
    assert sales.row_count == 40_000
    assert [c.name for c in sales.columns][:3] == ["sale_id", "sale_date", "customer_id"]
    sale_id, total = sales.column("sale_id"), sales.column("total_amount")
    assert sale_id is not None and sale_id.primary_key and not sale_id.nullable
    assert total is not None and total.type.upper().startswith("NUMERIC(10")
    # Comments survive for every column, including the last one of each table.
    assert total.comment is not None and "Revenue" in total.comment
    assert all(c.comment for t in catalog.tables.values() for c in t.columns)
    assert sales.column("payment_method").comment == "Credit Card, Debit Card, Cash or Mobile Wallet."  # type: ignore[union-attr]
    assert sales.column("customer_id").nullable  # type: ignore[union-attr]
    assert set(sales.foreign_keys) == {
        ForeignKey(("customer_id",), "customers", ("customer_id",)),
        ForeignKey(("store_id",), "stores", ("store_id",)),
        ForeignKey(("employee_id",), "employees", ("employee_id",)),
        ForeignKey(("product_id",), "products", ("product_id",)),
    }
    employees = catalog.table("employees")
    assert employees is not None
    assert ForeignKey(("manager_id",), "employees", ("employee_id",)) in employees.foreign_keys
    # Samples: distinct, non-null, text-like (dates included, to show their format), never numbers.
    payment = sales.column("payment_method")
    assert payment is not None and len(payment.samples) == 3
    assert set(payment.samples) <= {"Credit Card", "Debit Card", "Cash", "Mobile Wallet"}
    assert sales.column("sale_date").samples[0] == "2023-01-01"  # type: ignore[union-attr]
    assert sales.column("quantity").samples == ()  # type: ignore[union-attr]
    description = catalog.table("product_categories").column("description")  # type: ignore[union-attr]
    assert description is not None and description.samples
    assert all(len(v) <= MAX_SAMPLE_CHARS for v in description.samples)
    assert any(v.endswith("…") for v in description.samples)
    assert catalog.table("regions").row_count == 5  # type: ignore[union-attr]


def test_sqlite_catalog(sqlite_catalog: SchemaCatalog) -> None:
    assert sqlite_catalog.dialect == "sqlite"
    check_sample_catalog(sqlite_catalog)
    assert sqlite_catalog.table("customers").column("signup_date").type == "DATE"  # type: ignore[union-attr]


@pytest.mark.postgres
def test_postgres_catalog(pg_catalog: SchemaCatalog) -> None:
    assert pg_catalog.dialect == "postgres"
    check_sample_catalog(pg_catalog)
    assert pg_catalog.table("sales").schema is None  # type: ignore[union-attr]


@pytest.mark.postgres
def test_catalogs_agree_across_backends(sqlite_catalog: SchemaCatalog, pg_catalog: SchemaCatalog) -> None:
    for name, table in sqlite_catalog.tables.items():
        other = pg_catalog.tables[name]
        assert [c.name for c in table.columns] == [c.name for c in other.columns]
        assert [c.comment for c in table.columns] == [c.comment for c in other.columns]
        assert [c.samples for c in table.columns] == [c.samples for c in other.columns]
        assert table.comment == other.comment
        assert set(table.foreign_keys) == set(other.foreign_keys)
        assert table.row_count == other.row_count


@pytest.mark.postgres
def test_postgres_named_schema(pg_sample_url: str) -> None:
    admin = sa.create_engine(pg_sample_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA catalog_check"))
        conn.execute(sa.text("CREATE TABLE catalog_check.notes (id integer PRIMARY KEY, body text)"))
        conn.execute(sa.text("CREATE VIEW catalog_check.short_notes AS SELECT id FROM catalog_check.notes"))
        conn.execute(sa.text("COMMENT ON COLUMN catalog_check.notes.body IS 'Free text.'"))
    engine = make_engine(pg_sample_url)
    try:
        catalog = reflect_catalog(engine, schema="catalog_check")
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA catalog_check CASCADE"))
        admin.dispose()
    assert sorted(catalog.tables) == ["notes", "short_notes"]
    notes = catalog.table("notes")
    assert notes is not None and notes.schema == "catalog_check"
    assert notes.column("body").comment == "Free text."  # type: ignore[union-attr]
    assert notes.row_count is None or notes.row_count == 0  # never analyzed: unknown, not a guess
    assert catalog.table("short_notes").row_count is None  # type: ignore[union-attr]


def test_include_tables_and_no_samples(sample_db_url: str) -> None:
    engine = make_engine(sample_db_url)
    try:
        catalog = reflect_catalog(engine, include_tables=["Sales", "stores"], sample_values=0)
    finally:
        engine.dispose()
    assert sorted(catalog.tables) == ["sales", "stores"]
    # Keys to tables left out would point nowhere.
    assert catalog.table("sales").foreign_keys == (ForeignKey(("store_id",), "stores", ("store_id",)),)  # type: ignore[union-attr]
    assert all(c.samples == () for t in catalog.tables.values() for c in t.columns)


def test_reflection_is_fast(sample_db_url: str) -> None:
    engine = make_engine(sample_db_url)
    try:
        durations = []
        for _ in range(3):
            started = time.perf_counter()
            reflect_catalog(engine)
            durations.append(time.perf_counter() - started)
    finally:
        engine.dispose()
    assert min(durations) < 0.5


@pytest.fixture
def handmade_db(tmp_path: Path) -> Iterator[str]:
    """A SQLite file written by hand: a view, no statistics, odd DDL, uncommented and commented columns."""
    path = tmp_path / "handmade.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(
            """
            CREATE TABLE "Order Items" (
              id INTEGER PRIMARY KEY,
              label TEXT /* block comment */,
              payload BLOB,
              untyped
            );
            CREATE TABLE plain (a INTEGER, b TEXT);
            CREATE VIEW labelled AS SELECT id, label FROM "Order Items" WHERE label IS NOT NULL;
            INSERT INTO "Order Items" (label, payload, untyped) VALUES
              ('a very long label that goes on and on well past the limit', x'00', 1),
              ('b', NULL, 'x'), (NULL, NULL, NULL), ('b', NULL, NULL);
            """
        )
        conn.commit()
    yield f"sqlite:///{path}"


def test_handmade_sqlite_database(handmade_db: str) -> None:
    engine = make_engine(handmade_db)
    try:
        catalog = reflect_catalog(engine)
    finally:
        engine.dispose()
    assert sorted(catalog.tables) == ["labelled", "order items", "plain"]
    items = catalog.table("Order Items")
    assert items is not None and items.row_count == 4  # counted: no sqlite_stat1 here
    label = items.column("label")
    assert label is not None and label.comment == "block comment"
    assert label.samples == ("a very long label that goes on and on w…", "b")
    assert items.column("untyped").type == ""  # type: ignore[union-attr]
    assert catalog.table("plain").row_count == 0  # type: ignore[union-attr]
    view = catalog.table("labelled")
    assert view is not None and view.row_count is None and [c.name for c in view.columns] == ["id", "label"]
    assert view.column("label").samples == ("a very long label that goes on and on w…", "b")  # type: ignore[union-attr]


def test_empty_database_gives_an_empty_catalog(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("DROP TABLE t")
        conn.commit()
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert reflect_catalog(engine) == SchemaCatalog("sqlite", {})
        assert reflect_catalog(engine, include_tables=[]) == SchemaCatalog("sqlite", {})
    finally:
        engine.dispose()


def test_reflecting_a_vanished_file_is_unavailable(handmade_db: str) -> None:
    from nl2sql_agent.db.engine import sqlite_file_path
    from nl2sql_agent.errors import DatabaseUnavailableError

    engine = make_engine(handmade_db)
    sqlite_file_path(handmade_db).unlink()
    with pytest.raises(DatabaseUnavailableError):
        reflect_catalog(engine)
    engine.dispose()
