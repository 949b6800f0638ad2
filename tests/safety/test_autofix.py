"""Deterministic fixes of a draft's one-meaning slips, run on a real SQLite database with real keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from nl2sql_agent import validate_sql
from nl2sql_agent.db.catalog import reflect_catalog
from nl2sql_agent.db.engine import make_engine
from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.safety.autofix import autofix, join_owner_tables, respell_columns
from nl2sql_agent.safety.policy import SqlPolicy

SCHEMA = """
CREATE TABLE publisher (id INTEGER PRIMARY KEY, publisher_name TEXT);
CREATE TABLE superhero (id INTEGER PRIMARY KEY, superhero_name TEXT, height_cm INTEGER,
    publisher_id INTEGER REFERENCES publisher(id), secret_identity TEXT);
CREATE TABLE superpower (id INTEGER PRIMARY KEY, power_name TEXT);
CREATE TABLE hero_power (hero_id INTEGER REFERENCES superhero(id), power_id INTEGER REFERENCES superpower(id));
CREATE TABLE pets (PetID INTEGER PRIMARY KEY, PetType TEXT, weight REAL);
CREATE TABLE rival (a_id INTEGER REFERENCES superhero(id), b_id INTEGER REFERENCES superhero(id), note TEXT);
INSERT INTO publisher VALUES (1, 'Marvel Comics'), (2, 'DC Comics');
INSERT INTO superhero VALUES (1, 'Thor', 198, 1, 'x'), (2, 'Batman', 188, 2, 'y'), (3, 'Hulk', 244, 1, 'z');
INSERT INTO superpower VALUES (1, 'Flight'), (2, 'Strength');
INSERT INTO hero_power VALUES (1, 1), (1, 2), (3, 2);
INSERT INTO pets VALUES (1, 'dog', 12.0), (2, 'cat', 3.5);
"""


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


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return sorted(conn.execute(sql).fetchall())


def test_column_of_a_linked_table_gets_its_join(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    draft = "SELECT COUNT(*) FROM hero_power AS T2 WHERE T2.power_name = 'Strength'"
    fixed = join_owner_tables(draft, dialect="sqlite", catalog=catalog)
    assert fixed is not None
    checked = validate_sql(fixed, dialect="sqlite", catalog=catalog)
    assert checked.tables == {"hero_power", "superpower"}
    assert rows(path, checked.sql) == [(2,)]


def test_bare_columns_are_bound_before_the_join_makes_them_ambiguous(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    # "id" is in superhero and publisher: once publisher is joined, a bare "id" would be ambiguous.
    fixed = join_owner_tables(
        "SELECT id, superhero_name FROM superhero WHERE publisher_name = 'Marvel Comics'",
        dialect="sqlite",
        catalog=catalog,
    )
    assert fixed is not None
    assert rows(path, validate_sql(fixed, dialect="sqlite", catalog=catalog).sql) == [(1, "Thor"), (3, "Hulk")]


def test_no_join_is_guessed_when_two_keys_could_carry_it(heroes: tuple[Path, SchemaCatalog]) -> None:
    _, catalog = heroes
    # rival links to superhero twice (a_id, b_id): which hero is meant is the model's call.
    assert join_owner_tables("SELECT note, superhero_name FROM rival", dialect="sqlite", catalog=catalog) is None
    # No key at all between pets and superhero.
    assert join_owner_tables("SELECT superhero_name FROM pets", dialect="sqlite", catalog=catalog) is None


def test_no_join_reaches_a_hidden_column(heroes: tuple[Path, SchemaCatalog]) -> None:
    _, catalog = heroes
    policy = SqlPolicy(hidden_columns=frozenset({"superhero.secret_identity"}))
    draft = "SELECT hp.power_id, hp.secret_identity FROM hero_power AS hp"
    assert join_owner_tables(draft, dialect="sqlite", catalog=catalog, policy=policy) is None
    assert join_owner_tables(draft, dialect="sqlite", catalog=catalog) is not None


def test_a_name_spelt_without_its_underscore_is_respelt(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    draft = "SELECT p.weight FROM pets AS p WHERE p.pet_type = 'dog'"
    fixed = respell_columns(draft, dialect="sqlite", catalog=catalog)
    assert fixed == "SELECT p.weight FROM pets AS p WHERE p.pettype = 'dog'"
    assert rows(path, fixed) == [(12.0,)]
    # A near miss that is not the same letters is left to the model (and its did-you-mean hint).
    assert respell_columns("SELECT p.kind FROM pets AS p", dialect="sqlite", catalog=catalog) is None


def test_fixes_compose_and_leave_good_sql_alone(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    # A swapped alias (T1.power_id) and a column one join away (T2.power_name), in one draft.
    draft = (
        "SELECT T1.superhero_name FROM superhero AS T1 JOIN hero_power AS T2 ON T1.id = T2.hero_id "
        "WHERE T2.power_name = 'Flight' AND T1.power_id = 1"
    )
    fixed = autofix(draft, dialect="sqlite", catalog=catalog)
    assert fixed is not None
    assert rows(path, validate_sql(fixed, dialect="sqlite", catalog=catalog).sql) == [("Thor",)]
    assert autofix("SELECT superhero_name FROM superhero", dialect="sqlite", catalog=catalog) is None
    assert autofix("SELEC nonsense (", dialect="sqlite", catalog=catalog) is None
