"""Golden validator cases from tests/fixtures/validator, checked and (for accepts) run on real engines."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlglot
from redteam_shop import REDTEAM_DIR, shop_catalog, shop_policy
from validator_fixtures import SqlCase, load_cases

from nl2sql_agent.errors import SQLValidationError, UnsafeSQLError
from nl2sql_agent.safety import ValidatedQuery, validate_sql

ACCEPT = load_cases("accept.sql")
REJECT = load_cases("reject.sql")
SCHEMA_DIR = REDTEAM_DIR / "schema"

pytestmark = pytest.mark.skipif(not SCHEMA_DIR.exists(), reason=f"shop schema not found at {SCHEMA_DIR}")


def _with_shop(case: SqlCase) -> ValidatedQuery:
    return validate_sql(
        case.sql, dialect=case.dialect, catalog=shop_catalog(case.dialect), policy=shop_policy(case.dialect)
    )


def test_fixture_files_are_substantial() -> None:
    assert len(ACCEPT) >= 50 and len(REJECT) >= 80
    assert {c.dialect for c in ACCEPT} == {c.dialect for c in REJECT} == {"postgres", "sqlite"}
    assert all(c.sql.strip() and c.meta.get("reason") for c in ACCEPT + REJECT)
    assert all(c.meta.get("expect") in ("unsafe", "invalid") for c in REJECT)


@pytest.mark.parametrize("case", ACCEPT, ids=[c.id for c in ACCEPT])
def test_accept(case: SqlCase) -> None:
    structural = validate_sql(case.sql, dialect=case.dialect)
    checked = _with_shop(case)
    for query in (structural, checked):
        assert 0 <= query.limit <= 1000
        # The SQL that will run is itself one valid statement that carries the applied limit.
        reparsed = sqlglot.parse(query.sql, read=case.dialect)
        assert len(reparsed) == 1 and reparsed[0] is not None
        assert reparsed[0].args["limit"].expression.to_py() == query.limit
    assert checked.tables <= set(shop_catalog(case.dialect)), checked.tables
    assert structural.tables == checked.tables


@pytest.mark.parametrize("case", REJECT, ids=[c.id for c in REJECT])
def test_reject(case: SqlCase) -> None:
    expected = UnsafeSQLError if case.meta["expect"] == "unsafe" else SQLValidationError
    runs = [True] if case.meta.get("catalog") == "required" else [True, False]
    for with_catalog in runs:
        kwargs: dict[str, Any] = {}
        if with_catalog:
            kwargs = {"catalog": shop_catalog(case.dialect), "policy": shop_policy(case.dialect)}
        with pytest.raises(expected) as caught:
            validate_sql(case.sql, dialect=case.dialect, **kwargs)
        error = caught.value
        details = error.reasons if isinstance(error, UnsafeSQLError) else error.issues
        assert details and error.sql == case.sql
        assert case.meta.get("message", "") in details[0]


@pytest.fixture(scope="module")
def shop_sqlite() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{SCHEMA_DIR / 'shop.sqlite'}?mode=ro", uri=True)
    yield conn
    conn.close()


@pytest.mark.parametrize("case", [c for c in ACCEPT if c.dialect == "sqlite"], ids=lambda c: c.id)
def test_accepted_sql_runs_on_sqlite(case: SqlCase, shop_sqlite: sqlite3.Connection) -> None:
    for query in (validate_sql(case.sql, dialect="sqlite"), _with_shop(case)):
        rows = shop_sqlite.execute(query.sql).fetchall()
        assert len(rows) <= query.limit


@pytest.fixture(scope="module")
def shop_postgres(pg_admin_url: str) -> Iterator[Any]:
    psycopg = pytest.importorskip("psycopg")
    name = f"nl2sql_test_safety_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        ddl = (SCHEMA_DIR / "schema_postgres.sql").read_text()
        # The role section creates a cluster-wide role; the tables and data are all the tests need.
        ddl = ddl.split("-- Least-privilege role")[0]
        url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(ddl)
            conn.execute("SET default_transaction_read_only = on")
            yield conn
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.parametrize("case", [c for c in ACCEPT if c.dialect == "postgres"], ids=lambda c: c.id)
def test_accepted_sql_runs_on_postgres(case: SqlCase, shop_postgres: Any) -> None:
    for query in (validate_sql(case.sql, dialect="postgres"), _with_shop(case)):
        rows = shop_postgres.execute(query.sql).fetchall()
        assert len(rows) <= query.limit
