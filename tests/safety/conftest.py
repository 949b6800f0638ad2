"""Fixtures for the safety tests: a small real SQLite database with foreign keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from heroes_db import SCHEMA, sqlite_database

from nl2sql_agent.db.types import SchemaCatalog


@pytest.fixture(scope="module")
def heroes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SchemaCatalog]]:
    yield from sqlite_database(tmp_path_factory.mktemp("autofix"), SCHEMA)
