"""Engines: URL handling, files that are missing, servers that are down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nl2sql_agent.db import ReadOnlyExecutor, make_engine, reflect_catalog, verify_read_only
from nl2sql_agent.errors import ConfigurationError, DatabaseUnavailableError


def test_missing_file_is_unavailable_and_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "missing.db"
    with pytest.raises(DatabaseUnavailableError, match="not found"):
        make_engine(f"sqlite:///{missing}")
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db", "not a url"])
def test_unusable_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        make_engine(url)


def test_non_positive_timeout_is_rejected(sample_db_url: str) -> None:
    with pytest.raises(ConfigurationError):
        make_engine(sample_db_url, statement_timeout_s=0)


def test_unreachable_server_is_unavailable_quickly() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError, match="cannot connect"):
        ReadOnlyExecutor(engine).run("SELECT 1", max_rows=1)
    with pytest.raises(DatabaseUnavailableError):
        reflect_catalog(engine)
    with pytest.raises(DatabaseUnavailableError):
        verify_read_only(engine)
    assert time.monotonic() - started < 10
    engine.dispose()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_url_schemes_use_psycopg(scheme: str) -> None:
    engine = make_engine(f"{scheme}://u@127.0.0.1:1/db")
    assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
    engine.dispose()
