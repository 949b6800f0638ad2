"""Fixtures for the database layer: the sample SQLite file (from tests/conftest.py) and a sample PostgreSQL.

``pg_sample_url`` / ``pg_readonly_role`` are named so they can move to tests/conftest.py unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from nl2sql_agent.db import ReadOnlyExecutor, make_engine
from nl2sql_agent.db.engine import postgres_url
from nl2sql_agent.sample_db import TABLE_NAMES

HIDDEN_COLUMNS = ("customers.email", "customers.phone", "employees.salary")


@pytest.fixture
def sample_copy(sample_db_path: Path, tmp_path: Path) -> Path:
    """A private copy of the sample SQLite file, for tests that compare its bytes before and after."""
    target = tmp_path / "retail.sqlite"
    shutil.copyfile(sample_db_path, target)
    return target


@pytest.fixture
def sqlite_executor(sample_copy: Path) -> Iterator[ReadOnlyExecutor]:
    engine = make_engine(f"sqlite:///{sample_copy}", statement_timeout_s=5)
    yield ReadOnlyExecutor(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def pg_sample_url(make_pg_database: Callable[[str], str]) -> str:
    """A PostgreSQL database of its own holding the sample tables in ``public``."""
    from nl2sql_agent.sample_db import load_sample_into

    url = make_pg_database("db")
    load_sample_into(url)
    return url


@pytest.fixture(scope="session")
def pg_readonly_role(pg_sample_url: str) -> Iterator[str]:
    """URL of a LOGIN role created by ``create_readonly_role`` with ``HIDDEN_COLUMNS`` hidden."""
    from nl2sql_agent.db import create_readonly_role, drop_role

    role = f"nl2sql_test_ro_{uuid.uuid4().hex[:8]}"
    create_readonly_role(pg_sample_url, role, hidden_columns=HIDDEN_COLUMNS, login=True)
    try:
        yield make_url(pg_sample_url).set(username=role).render_as_string(hide_password=False)
    finally:
        drop_role(pg_sample_url, role)


@pytest.fixture
def pg_executor(pg_sample_url: str) -> Iterator[ReadOnlyExecutor]:
    engine = make_engine(pg_sample_url, statement_timeout_s=5)
    yield ReadOnlyExecutor(engine)
    engine.dispose()


def sqlite_data_checksum(path: Path) -> str:
    """A digest of every sample row, read in primary-key order with a plain sqlite3 connection."""
    digest = hashlib.sha256()
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        for table in TABLE_NAMES:
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1"):
                digest.update(repr(row).encode())
    return digest.hexdigest()


def pg_data_state(url: str) -> dict[str, str]:
    """``{table: "count:md5"}`` of every sample table, read through a plain engine (no confinement)."""
    engine = sa.create_engine(postgres_url(url))
    try:
        with engine.connect() as conn:
            return {
                table: conn.execute(
                    sa.text(
                        f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                        f"FROM {table} AS t"
                    )
                ).scalar_one()
                for table in TABLE_NAMES
            }
    finally:
        engine.dispose()


@pytest.fixture(name="sqlite_data_checksum")
def sqlite_data_checksum_fixture() -> Callable[[Path], str]:
    return sqlite_data_checksum


@pytest.fixture(name="pg_data_state")
def pg_data_state_fixture() -> Callable[[str], dict[str, str]]:
    return pg_data_state
