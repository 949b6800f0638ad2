"""Fixtures for the safety tests: a small real SQLite database with foreign keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from heroes_db import SCHEMA

from nl2sql_agent.db.catalog import reflect_catalog
from nl2sql_agent.db.engine import make_engine
from nl2sql_agent.db.types import SchemaCatalog


@pytest.fixture(scope="module")
def heroes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SchemaCatalog]]:
    path = tmp_path_factory.mktemp("autofix") / "heroes.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield path, reflect_catalog(engine)
    finally:
        engine.dispose()
