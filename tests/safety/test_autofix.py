"""Deterministic fixes of a draft's one-meaning slips, run on a real SQLite database with real keys."""

from __future__ import annotations

from pathlib import Path

from heroes_db import rows

from nl2sql_agent import validate_sql
from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.safety.autofix import autofix, join_owner_tables, respell_columns
from nl2sql_agent.safety.policy import SqlPolicy


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


def test_without_declared_keys_one_shared_key_like_name_links_two_tables(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    fixed = join_owner_tables(
        "SELECT f.flight_id FROM flight AS f WHERE f.airline_name = 'Delta'", dialect="sqlite", catalog=catalog
    )
    assert fixed is not None and "f.airline_code = airline.airline_code" in fixed
    assert rows(path, validate_sql(fixed, dialect="sqlite", catalog=catalog).sql) == [(1,), (3,)]
    # flight and city share only time_zone_code: an attribute of both, a key of neither. No guess.
    draft = "SELECT f.flight_id FROM flight AS f WHERE f.city_code = 'X'"
    assert join_owner_tables(draft, dialect="sqlite", catalog=catalog) is None


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
