"""Shared fixtures: a clean environment, the sample database, and PostgreSQL when it is reachable."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("NL2SQL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No NL2SQL_* or provider variable from the developer's shell leaks into a test; data goes to a temp dir."""
    for name in list(os.environ):
        if name.startswith(("NL2SQL_", "OPENAI_", "HF_", "HUGGINGFACE")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NL2SQL_DATA_DIR", str(tmp_path_factory.mktemp("nl2sql-data")))


@pytest.fixture(scope="session")
def sample_db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample retail database, built once per test session."""
    from nl2sql_agent.sample_db import ensure_sample_sqlite

    return ensure_sample_sqlite(tmp_path_factory.mktemp("sample") / "sample_retail.sqlite")


@pytest.fixture(scope="session")
def sample_db_url(sample_db_path: Path) -> str:
    return f"sqlite:///{sample_db_path}"


def _pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    if not _pg_reachable():
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    return PG_ADMIN_URL


@pytest.fixture(scope="session")
def make_pg_database(pg_admin_url: str) -> Iterator[Callable[[str], str]]:
    """Creates fresh PostgreSQL databases (``make("api")`` -> URL); all are dropped when the session ends."""
    import psycopg

    created: list[str] = []

    def make(purpose: str) -> str:
        name = f"nl2sql_test_{purpose}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return pg_admin_url.rsplit("/", 1)[0] + f"/{name}"

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_scratch_url(make_pg_database: Callable[[str], str]) -> str:
    """A fresh PostgreSQL database for this test session."""
    return make_pg_database("scratch")
