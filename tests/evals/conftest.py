"""Fixtures of the harness tests: a small real SQLite database and the shared benchmark folder."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from nl2sql_agent.evals.loaders import DEFAULT_BENCH_DIR

TINY_SCHEMA = """
CREATE TABLE city (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT, population INTEGER, area REAL);
INSERT INTO city VALUES (1, 'Oslo', 'NO', 700000, 454.0), (2, 'Bergen', 'NO', 285000, 465.3),
  (3, 'Lyon', 'FR', 520000, 47.87), (4, 'Nice', 'FR', 340000, 71.92), (5, 'Atlantis', NULL, NULL, NULL);
"""


@pytest.fixture()
def make_sqlite(tmp_path: Path) -> Callable[[str, str], Path]:
    """Builds a real SQLite file ``make_sqlite(name, script)`` in the test's temporary folder."""

    def make(name: str, script: str) -> Path:
        path = tmp_path / name
        connection = sqlite3.connect(path)
        connection.executescript(script)
        connection.commit()
        connection.close()
        return path

    return make


@pytest.fixture()
def tiny_db(make_sqlite: Callable[[str, str], Path]) -> Path:
    """A five-row SQLite database file (real file, opened read-only by the harness)."""
    return make_sqlite("tiny.sqlite", TINY_SCHEMA)


@pytest.fixture(scope="session")
def bench_root() -> Path:
    """The shared benchmark folder; tests that need it are skipped where it is absent."""
    if not (DEFAULT_BENCH_DIR / "spider" / "dev.json").is_file():
        pytest.skip("shared benchmark folder not available")
    return DEFAULT_BENCH_DIR


@pytest.fixture(scope="session")
def evals_cache(tmp_path_factory: pytest.TempPathFactory, sample_db_path: Path) -> Path:
    """A cache folder whose sample database is the session's already-built one (saves a rebuild)."""
    cache = tmp_path_factory.mktemp("evals-cache")
    (cache / "sample").mkdir()
    (cache / "sample" / "sample_retail.db").symlink_to(sample_db_path)
    return cache
