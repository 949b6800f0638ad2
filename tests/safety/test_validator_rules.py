"""Unit tests of validate_sql's rules: row cap, star expansion, hidden columns, row filters, hints."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator

import pytest

import nl2sql_agent.safety as safety
from nl2sql_agent.db.types import ColumnInfo, SchemaCatalog, TableInfo
from nl2sql_agent.errors import ConfigurationError, SQLValidationError, UnsafeSQLError
from nl2sql_agent.safety import SqlPolicy, ValidatedQuery, validate_sql


def _table(name: str, *cols: tuple[str, str], rows: int | None = None) -> TableInfo:
    return TableInfo(name, tuple(ColumnInfo(c, t) for c, t in cols), row_count=rows)


CATALOG = SchemaCatalog(
    "sqlite",
    {
        "customers": _table(
            "customers", ("id", "INTEGER"), ("name", "TEXT"), ("email", "TEXT"), ("tenant_id", "INTEGER")
        ),
        "orders": _table(
            "orders",
            ("id", "INTEGER"),
            ("customer_id", "INTEGER"),
            ("total", "REAL"),
            ("order_date", "TEXT"),
            ("tenant_id", "INTEGER"),
            rows=5_000_000,
        ),
        "secrets": _table("secrets", ("id", "INTEGER"), ("token", "TEXT")),
    },
)
HIDDEN = SqlPolicy(hidden_columns=frozenset({"Customers.Email", "customers.tenant_id", "orders.tenant_id"}))
TENANT_7 = dataclasses.replace(HIDDEN, row_filters={"orders": "tenant_id = 7", "customers": "tenant_id = 7"})


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    """A real SQLite database matching CATALOG, with rows for two tenants."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        """
        CREATE TABLE customers (id INTEGER, name TEXT, email TEXT, tenant_id INTEGER);
        CREATE TABLE orders (id INTEGER, customer_id INTEGER, total REAL, order_date TEXT, tenant_id INTEGER);
        CREATE TABLE secrets (id INTEGER, token TEXT);
        INSERT INTO customers VALUES (1, 'Ann', 'ann@x', 7), (2, 'Bob', 'bob@x', 8), (3, 'Cy', 'cy@x', 7);
        INSERT INTO orders VALUES (10, 1, 5.0, '2024-01-01', 7), (11, 2, 99.0, '2024-02-01', 8),
                                  (12, 3, 7.0, '2024-03-01', 7), (13, 2, 50.0, '2024-03-02', 8);
        """
    )
    yield conn
    conn.close()


def _ok(sql: str, policy: SqlPolicy | None = None, catalog: SchemaCatalog | None = CATALOG) -> ValidatedQuery:
    return validate_sql(sql, dialect="sqlite", catalog=catalog, policy=policy)


def _unsafe(sql: str, policy: SqlPolicy | None = None, catalog: SchemaCatalog | None = CATALOG) -> str:
    with pytest.raises(UnsafeSQLError) as caught:
        validate_sql(sql, dialect="sqlite", catalog=catalog, policy=policy)
    return caught.value.reasons[0]


def _invalid(sql: str, policy: SqlPolicy | None = None, dialect: str = "sqlite") -> str:
    with pytest.raises(SQLValidationError) as caught:
        validate_sql(sql, dialect=dialect, catalog=CATALOG, policy=policy)
    return caught.value.issues[0]


def test_public_surface() -> None:
    assert set(safety.__all__) == {"SqlPolicy", "ValidatedQuery", "validate_sql"}
    assert all(hasattr(safety, name) for name in safety.__all__)


# --- LIMIT -----------------------------------------------------------------------------------------


def test_limit_is_injected_when_missing(db: sqlite3.Connection) -> None:
    query = _ok("SELECT id FROM orders", SqlPolicy(max_rows=2))
    assert query.limit == 2
    assert len(db.execute(query.sql).fetchall()) == 2


@pytest.mark.parametrize(("written", "applied"), [(1, 1), (2, 2), (3, 2), (10**12, 2), (-1, 2)])
def test_literal_limit_is_kept_or_clamped(db: sqlite3.Connection, written: int, applied: int) -> None:
    query = _ok(f"SELECT id FROM orders ORDER BY id LIMIT {written}", SqlPolicy(max_rows=2))
    assert query.limit == applied
    assert len(db.execute(query.sql).fetchall()) == applied


def test_limit_applies_to_the_whole_union(db: sqlite3.Connection) -> None:
    query = _ok("SELECT id FROM orders UNION ALL SELECT id FROM customers", SqlPolicy(max_rows=3))
    assert len(db.execute(query.sql).fetchall()) == 3


def test_inner_limits_are_left_alone() -> None:
    query = _ok("SELECT * FROM (SELECT id FROM orders LIMIT 5000) AS t", SqlPolicy(max_rows=10))
    assert "LIMIT 5000" in query.sql and query.limit == 10


@pytest.mark.parametrize(
    "sql",
    ["SELECT id FROM orders LIMIT (SELECT 5)", "SELECT id FROM orders LIMIT 1 + 1", "SELECT id FROM orders LIMIT NULL"],
)
def test_non_literal_limit_is_refused(sql: str) -> None:
    assert "LIMIT" in _unsafe(sql)


def test_policy_rejects_a_zero_row_cap() -> None:
    with pytest.raises(ValueError):
        SqlPolicy(max_rows=0)


# --- SELECT * and hidden columns --------------------------------------------------------------------


def test_star_expands_to_permitted_columns_only(db: sqlite3.Connection) -> None:
    query = _ok("SELECT * FROM customers ORDER BY id", HIDDEN)
    cursor = db.execute(query.sql)
    assert [d[0] for d in cursor.description] == ["id", "name"]
    assert "email" not in query.sql.lower()
    assert query.columns == {"customers.id", "customers.name"}


def test_table_star_expands_without_hidden_columns() -> None:
    query = _ok("SELECT c.*, o.total FROM customers c JOIN orders o ON o.customer_id = c.id", HIDDEN)
    assert "email" not in query.sql.lower() and "tenant_id" not in query.sql.lower()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT email FROM customers",
        "SELECT c.email AS contact FROM customers AS c",
        "SELECT name FROM customers WHERE email LIKE '%@x'",
        "SELECT name FROM customers ORDER BY email",
        "SELECT count(*) FROM customers GROUP BY email",
        "SELECT * FROM (SELECT email FROM customers) AS t",
        "WITH t AS (SELECT email AS e FROM customers) SELECT e FROM t",
        "SELECT name FROM customers WHERE id IN (SELECT id FROM customers WHERE email = 'a')",
        "SELECT o.id FROM orders o JOIN customers c ON c.email = 'x' AND c.id = o.customer_id",
        "SELECT json_group_array(c.*) FROM customers AS c",
        "SELECT tenant_id FROM orders",
    ],
)
def test_hidden_columns_are_refused_everywhere(sql: str) -> None:
    reason = _unsafe(sql, HIDDEN)
    assert "not available to you" in reason or "hidden" in reason


def test_hidden_column_message_is_polite_and_precise() -> None:
    assert _unsafe("SELECT c.email FROM customers c", HIDDEN) == "column customers.email is not available to you"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM customers",
        "SELECT c.* FROM customers AS c",
        "SELECT email FROM customers",
        "SELECT c.email FROM customers AS c",
        "SELECT c FROM customers AS c",
        "SELECT o.id FROM orders o JOIN customers c USING (email)",
    ],
)
def test_hidden_columns_without_a_catalog_fail_closed(sql: str) -> None:
    _unsafe(sql, HIDDEN, catalog=None)


def test_visible_columns_without_a_catalog_pass() -> None:
    assert _ok("SELECT name FROM customers", HIDDEN, catalog=None).tables == {"customers"}


def test_natural_join_is_refused_when_columns_are_hidden() -> None:
    assert "NATURAL" in _unsafe("SELECT count(*) FROM customers NATURAL JOIN orders", HIDDEN)


# --- tables ------------------------------------------------------------------------------------------


def test_non_allowed_table_is_refused_wherever_it_is_read() -> None:
    policy = SqlPolicy(allowed_tables=frozenset({"customers", "orders"}))
    for sql in [
        "SELECT token FROM secrets",
        "SELECT name FROM customers WHERE id IN (SELECT id FROM secrets)",
        "WITH s AS (SELECT * FROM secrets) SELECT * FROM s",
        "SELECT name FROM customers UNION SELECT token FROM main.secrets",
    ]:
        assert _unsafe(sql, policy) == "table secrets is not available to you"
    # The same policy works without a catalog.
    assert _unsafe("SELECT token FROM secrets", policy, catalog=None) == "table secrets is not available to you"


def test_cte_named_like_a_table_is_not_a_table_read() -> None:
    policy = SqlPolicy(allowed_tables=frozenset({"customers"}))
    query = _ok("WITH secrets AS (SELECT id FROM customers) SELECT id FROM secrets", policy)
    assert query.tables == {"customers"}


def test_tables_and_columns_read_are_reported() -> None:
    query = _ok("SELECT c.name, SUM(o.total) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY 1")
    assert query.tables == {"customers", "orders"}
    assert query.columns == {"customers.name", "customers.id", "orders.total", "orders.customer_id"}
    assert query.dialect == "sqlite" and query.original_sql.startswith("SELECT c.name")


def test_validated_query_is_frozen_and_compares_without_the_tree() -> None:
    a, b = _ok("SELECT id FROM orders"), _ok("SELECT id FROM orders")
    assert a == b and a.expression is not b.expression
    assert "expression" not in repr(a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.sql = "DROP TABLE orders"  # type: ignore[misc]


# --- row filters -------------------------------------------------------------------------------------


def _tenants(db: sqlite3.Connection, sql: str) -> set[int]:
    rows = db.execute(sql).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("catalog", [CATALOG, None], ids=["catalog", "no-catalog"])
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT customer_id FROM orders", {1, 3}),
        ("SELECT o.customer_id FROM orders AS o JOIN customers AS c ON c.id = o.customer_id", {1, 3}),
        ("SELECT customer_id FROM (SELECT customer_id FROM orders) AS t", {1, 3}),
        ("WITH x AS (SELECT customer_id FROM orders) SELECT customer_id FROM x", {1, 3}),
        ("SELECT id FROM customers WHERE id IN (SELECT customer_id FROM orders)", {1, 3}),
        ("SELECT id FROM customers WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = customers.id)", {1, 3}),
        # Renaming the table to a name with no filter does not escape it.
        ("SELECT customers.customer_id FROM orders AS customers", {1, 3}),
        ("SELECT customer_id FROM main.orders", {1, 3}),
        ("SELECT customer_id FROM orders UNION SELECT id FROM customers", {1, 3}),
    ],
)
def test_row_filters_apply_to_every_read(
    db: sqlite3.Connection, catalog: SchemaCatalog | None, sql: str, expected: set[int]
) -> None:
    policy = TENANT_7 if catalog is not None else dataclasses.replace(TENANT_7, hidden_columns=frozenset())
    query = _ok(sql, policy, catalog=catalog)
    assert _tenants(db, query.sql) == expected


def test_row_filter_predicate_may_use_hidden_columns(db: sqlite3.Connection) -> None:
    query = _ok("SELECT id, name FROM customers ORDER BY id", TENANT_7)
    assert db.execute(query.sql).fetchall() == [(1, "Ann"), (3, "Cy")]


def test_row_filter_columns_cannot_bind_to_an_outer_query(db: sqlite3.Connection) -> None:
    # The filter names tenant_id, which customers has; pinning it to orders keeps it from correlating.
    policy = SqlPolicy(row_filters={"orders": "tenant_id = 7"})
    query = _ok("SELECT c.id FROM customers c WHERE c.id IN (SELECT customer_id FROM orders)", policy)
    assert '"orders"' in query.sql or "orders.tenant_id" in query.sql
    assert _tenants(db, query.sql) == {1, 3}


# --- hints for the repair loop -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "issue"),
    [
        ("SELECT nme FROM customers", "unknown column customers.nme; did you mean customers.name?"),
        ("SELECT c.nam FROM customers AS c", "unknown column customers.nam; did you mean customers.name?"),
        ("SELECT year FROM orders", "unknown column orders.year; did you mean orders.order_date?"),
        (
            "SELECT total FROM customers",
            "unknown column total (customers has no total); total is a column of orders: join that table to use it",
        ),
        ("SELECT id FROM customer", "unknown table customer; did you mean customers?"),
        # A guess made of two real columns' words names both.
        (
            "SELECT order_total FROM orders",
            "unknown column orders.order_total; did you mean orders.total or orders.order_date?",
        ),
        (
            "WITH t AS (SELECT id AS ident FROM orders) SELECT t.idnt FROM t",
            "unknown column t.idnt; did you mean t.ident?",
        ),
        ("SELECT YEAR(order_date) FROM orders", "function YEAR does not exist in SQLite; use strftime('%Y', col)"),
        (
            "SELECT DATEDIFF('day', '2024-01-01', order_date) FROM orders",
            "function DATEDIFF does not exist in SQLite; use julianday(a) - julianday(b) for days",
        ),
        (
            "SELECT id FROM orders WHERE order_date > date('now') - INTERVAL '30' DAY",
            "INTERVAL does not exist in SQLite; use date(col, '-N days') or datetime(col, '+N hours'), "
            "with the question's own N",
        ),
    ],
)
def test_did_you_mean_hints(sql: str, issue: str) -> None:
    assert _invalid(sql) == issue


def test_hidden_column_is_not_offered_as_a_hint() -> None:
    assert "email" not in _invalid("SELECT emial FROM customers", HIDDEN)


def test_syntax_error_points_at_the_position() -> None:
    issue = _invalid("SELECT id FROM orders WHERE")
    assert issue.startswith("syntax error")


def test_postgres_hint_for_sqlite_functions() -> None:
    assert "to_char" in _invalid("SELECT strftime('%Y', order_date) FROM orders", dialect="postgres")


# --- bounds ------------------------------------------------------------------------------------------


def test_cross_join_of_large_known_tables_is_refused() -> None:
    assert "cross join" in _unsafe("SELECT count(*) FROM orders a CROSS JOIN orders b")


def test_join_with_a_condition_is_fine() -> None:
    _ok("SELECT count(*) FROM orders a JOIN orders b ON a.id = b.id")


def test_ast_size_is_bounded() -> None:
    sql = "SELECT " + " + ".join(["1"] * 300)
    assert "too complex" in _unsafe(sql, SqlPolicy(max_ast_nodes=100), catalog=None)


def test_recursive_ctes_can_be_switched_off() -> None:
    sql = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT n FROM c"
    assert _ok(sql, catalog=None).limit == 1000
    assert "recursive" in _unsafe(sql, SqlPolicy(allow_recursive_cte=False), catalog=None)


def test_extra_functions_extend_the_allowlist_but_never_unlock_dangerous_ones() -> None:
    policy = SqlPolicy(extra_functions=frozenset({"my_udf", "pg_sleep"}))
    assert _ok("SELECT my_udf(id) FROM orders", policy)
    with pytest.raises(SQLValidationError):
        _ok("SELECT my_udf(id) FROM orders")
    assert "pg_sleep" in _unsafe("SELECT pg_sleep(1)", policy, catalog=None)


def test_unknown_dialect_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        validate_sql("SELECT 1", dialect="no-such-dialect")


def test_dialect_aliases() -> None:
    assert validate_sql("SELECT 1", dialect="postgresql").dialect == "postgres"


def test_plain_mapping_catalog_with_schemas() -> None:
    catalog = {"orders": {"id": "int"}, "auth.users": {"id": "int", "pw": "text"}}
    assert validate_sql("SELECT id FROM orders", dialect="postgres", catalog=catalog).tables == {"orders"}
    with pytest.raises(UnsafeSQLError):
        validate_sql("SELECT pw FROM auth.users", dialect="postgres", catalog=catalog)
    policy = SqlPolicy(allowed_schemas=frozenset({"auth"}), hidden_columns=frozenset({"auth.users.pw"}))
    query = validate_sql("SELECT * FROM auth.users", dialect="postgres", catalog=catalog, policy=policy)
    assert query.tables == {"auth.users"} and "pw" not in query.sql
