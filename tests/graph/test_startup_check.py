"""The start-up self-test: an agent refuses (or loudly reports) a connection that can write.

Writable engines are built for real with ``sqlalchemy.create_engine`` (no read-only options, no
authorizer), never by patching the database layer.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from nl2sql_agent import Agent, Settings
from nl2sql_agent.db.engine import make_engine, postgres_url
from nl2sql_agent.db.roles import create_readonly_role, drop_role, verify_read_only
from nl2sql_agent.errors import ConfigurationError
from nl2sql_agent.models.fake import FakeChatModel
from nl2sql_agent.startup import check_read_only


def _dump(path: Path) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return list(conn.iterdump())


@pytest.fixture
def sqlite_copy(sample_db_path: Path, tmp_path: Path) -> Path:
    target = tmp_path / "retail.sqlite"
    shutil.copyfile(sample_db_path, target)
    return target


@pytest.fixture
def writable_sqlite(sqlite_copy: Path) -> Iterator[sa.Engine]:
    """A plain SQLAlchemy engine on a copy of the sample database: nothing stops a write."""
    engine = sa.create_engine(f"sqlite:///{sqlite_copy}")
    yield engine
    engine.dispose()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def nl2sql_log() -> Iterator[list[logging.LogRecord]]:
    # A handler on the library's logger itself: the API's logging set-up turns propagation off.
    handler = _Collect()
    logger = logging.getLogger("nl2sql_agent")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


# --- SQLite -------------------------------------------------------------------------------------------


def test_confined_sqlite_engine_passes(sqlite_copy: Path, nl2sql_log: list[logging.LogRecord]) -> None:
    engine = make_engine(f"sqlite:///{sqlite_copy}")
    try:
        assert check_read_only(engine, "refuse") == []
    finally:
        engine.dispose()
    assert nl2sql_log == []


def test_writable_sqlite_engine_is_refused(writable_sqlite: sa.Engine, sqlite_copy: Path) -> None:
    before = _dump(sqlite_copy)
    with pytest.raises(ConfigurationError, match="can write") as caught:
        check_read_only(writable_sqlite, "refuse")
    problems = caught.value.details["problems"]
    assert {"CREATE TABLE succeeded", "ATTACH DATABASE succeeded"} <= set(problems)
    assert any(p.startswith("INSERT INTO") for p in problems)
    assert _dump(sqlite_copy) == before  # the probes themselves changed nothing


def test_warn_mode_logs_loudly_and_returns_the_problems(
    writable_sqlite: sa.Engine, nl2sql_log: list[logging.LogRecord]
) -> None:
    problems = check_read_only(writable_sqlite, "warn")
    assert "CREATE TABLE succeeded" in problems
    assert len(nl2sql_log) == 1 and nl2sql_log[0].levelno == logging.WARNING
    message = nl2sql_log[0].getMessage()
    assert "CAN WRITE" in message and "CREATE TABLE succeeded" in message


def test_off_mode_does_not_probe(writable_sqlite: sa.Engine, nl2sql_log: list[logging.LogRecord]) -> None:
    assert check_read_only(writable_sqlite, "off") == []
    assert nl2sql_log == []


def test_unknown_mode_is_a_configuration_error(writable_sqlite: sa.Engine) -> None:
    with pytest.raises(ConfigurationError, match="read_only_check"):
        check_read_only(writable_sqlite, "sometimes")  # type: ignore[arg-type]


def test_agent_runs_the_check_and_settings_validate_the_mode(sqlite_copy: Path) -> None:
    settings = Settings(db_url=f"sqlite:///{sqlite_copy}", checkpointer_url="memory")
    assert settings.read_only_check == "refuse"  # safe by default
    with Agent.from_settings(settings, model=FakeChatModel()) as agent:
        assert agent.catalog.tables
    with pytest.raises(ValueError, match="read_only_check"):
        Settings(read_only_check="never")  # type: ignore[arg-type]


# --- PostgreSQL ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_db(make_pg_database: Callable[[str], str]) -> str:
    """A scratch database with one table, owned by the (super)user of ``pg_admin_url``."""
    import psycopg

    url = make_pg_database("startup")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text)")
        conn.execute("INSERT INTO accounts VALUES (1, 'ana'), (2, 'bo')")
    return url


def _pg_state(url: str) -> tuple[object, ...]:
    import psycopg

    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public'"
        ).fetchone()
        rows = conn.execute("SELECT array_agg(row(id, owner)::text ORDER BY id) FROM accounts").fetchone()
    return (tables, rows)


@pytest.mark.postgres
def test_superuser_is_confined_by_read_only_transactions_but_not_by_its_role(pg_db: str) -> None:
    before = _pg_state(pg_db)
    engine = make_engine(pg_db)
    try:
        # The session defaults to read-only transactions: every write probe is refused...
        assert verify_read_only(engine) == []
        assert check_read_only(engine, "refuse") == []
        # ...but a superuser may switch a transaction back to READ WRITE, and then writes go through.
        privileged = verify_read_only(engine, check_privileges=True)
        assert "CREATE TABLE succeeded (after SET TRANSACTION READ WRITE)" in privileged
        assert "INSERT INTO public.accounts succeeded (after SET TRANSACTION READ WRITE)" in privileged
        with pytest.raises(ConfigurationError) as caught:
            check_read_only(engine, "refuse", check_privileges=True)
        assert "CREATE TABLE succeeded (after SET TRANSACTION READ WRITE)" in caught.value.details["problems"]
    finally:
        engine.dispose()
    assert _pg_state(pg_db) == before


@pytest.mark.postgres
def test_writable_postgres_engine_is_refused(pg_db: str) -> None:
    before = _pg_state(pg_db)
    engine = sa.create_engine(postgres_url(pg_db))  # no default_transaction_read_only
    try:
        with pytest.raises(ConfigurationError) as caught:
            check_read_only(engine, "refuse")
        problems = caught.value.details["problems"]
        assert {"CREATE TABLE succeeded", "INSERT INTO public.accounts succeeded"} <= set(problems)
        assert caught.value.details["dialect"] == "postgresql"
    finally:
        engine.dispose()
    assert _pg_state(pg_db) == before


@pytest.mark.postgres
def test_url_options_cannot_turn_read_only_mode_off(pg_db: str) -> None:
    url = pg_db + "?options=-c%20default_transaction_read_only%3Doff"
    engine = make_engine(url)
    try:
        assert check_read_only(engine, "refuse") == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_agent_requiring_a_read_only_role_refuses_a_superuser(pg_db: str) -> None:
    settings = Settings(db_url=pg_db, checkpointer_url="memory", require_readonly_role=True)
    with pytest.raises(ConfigurationError, match="can write") as caught:
        Agent.from_settings(settings, model=FakeChatModel())
    assert any("after SET TRANSACTION READ WRITE" in p for p in caught.value.details["problems"])
    # Without the role requirement the read-only transactions are enough to start.
    with Agent.from_settings(Settings(db_url=pg_db, checkpointer_url="memory"), model=FakeChatModel()) as agent:
        assert "accounts" in agent.catalog.tables


@pytest.mark.postgres
def test_a_role_from_create_readonly_role_passes_the_strict_check(pg_db: str) -> None:
    role = f"nl2sql_test_ro_{uuid.uuid4().hex[:8]}"
    create_readonly_role(pg_db, role, login=True)
    try:
        role_url = make_url(pg_db).set(username=role, password=None).render_as_string(hide_password=False)
        engine = make_engine(role_url)
        try:
            # Temporary tables stay possible in READ WRITE mode (TEMP is granted to PUBLIC); tolerated.
            assert verify_read_only(engine, check_privileges=True) == [
                "CREATE TEMP TABLE succeeded (after SET TRANSACTION READ WRITE)"
            ]
            assert check_read_only(engine, "refuse", check_privileges=True) == []
        finally:
            engine.dispose()
        # Even a plain engine without read-only sessions cannot write as this role.
        plain = sa.create_engine(postgres_url(role_url))
        try:
            assert check_read_only(plain, "refuse") == []
        finally:
            plain.dispose()
    finally:
        drop_role(pg_db, role)
