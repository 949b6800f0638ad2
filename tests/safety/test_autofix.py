"""Deterministic fixes of a draft's one-meaning slips, run on a real SQLite database with real keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from heroes_db import rows

from nl2sql_agent import validate_sql
from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.safety.autofix import autofix, bridge_joins, join_owner_tables, respell_columns
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


def test_an_initial_and_id_is_a_key_by_name(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    # writes has no cid: publication, whose cid and pid are conference's and publication's initials, links them.
    draft = "SELECT c.name, COUNT(w.aid) FROM conference AS c JOIN writes AS w ON c.cid = w.cid GROUP BY c.name"
    fixed = bridge_joins(draft, dialect="sqlite", catalog=catalog)
    assert fixed is not None and "JOIN publication" in fixed
    assert rows(path, validate_sql(fixed, dialect="sqlite", catalog=catalog).sql) == [("AAAS", 1), ("ICML", 2)]


def test_two_ends_of_a_link_joined_directly_get_the_link_table(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    # superhero has no power_id: hero_power, the one table with power_id and a key to each side, links them.
    for draft in (
        "SELECT p.power_name FROM superhero AS s JOIN superpower AS p ON s.power_id = p.id WHERE s.id = 1",
        "SELECT p.power_name FROM superpower AS p JOIN superhero AS s ON s.power_id = p.id WHERE s.id = 1",
    ):
        fixed = bridge_joins(draft, dialect="sqlite", catalog=catalog)
        assert fixed is not None and "hero_power" in fixed
        checked = validate_sql(fixed, dialect="sqlite", catalog=catalog)
        assert checked.tables == {"superhero", "hero_power", "superpower"}
        assert rows(path, checked.sql) == [("Flight",), ("Strength",)]
        # The whole chain of fixes starts with the link table (an alias move would make s.id = s.id).
        assert autofix(draft, dialect="sqlite", catalog=catalog) == fixed


def test_no_link_table_is_guessed_without_one_key_to_each_side(heroes: tuple[Path, SchemaCatalog]) -> None:
    _, catalog = heroes
    # rival holds two keys to superhero: no single link. pets is keyed to nothing.
    draft = "SELECT s.superhero_name FROM superhero AS s JOIN superhero AS t ON s.b_id = t.id"
    assert bridge_joins(draft, dialect="sqlite", catalog=catalog) is None
    draft = "SELECT s.superhero_name FROM superhero AS s JOIN pets AS p ON s.petid = p.petid"
    assert bridge_joins(draft, dialect="sqlite", catalog=catalog) is None
    # Both sides have their columns: nothing to fix.
    draft = "SELECT s.superhero_name FROM superhero AS s JOIN publisher AS p ON s.publisher_id = p.id"
    assert bridge_joins(draft, dialect="sqlite", catalog=catalog) is None


def test_a_link_table_through_a_hidden_column_is_not_used(heroes: tuple[Path, SchemaCatalog]) -> None:
    _, catalog = heroes
    policy = SqlPolicy(hidden_columns=frozenset({"hero_power.hero_id"}))
    draft = "SELECT p.power_name FROM superhero AS s JOIN superpower AS p ON s.power_id = p.id"
    assert bridge_joins(draft, dialect="sqlite", catalog=catalog, policy=policy) is None


def test_two_tables_under_one_alias_each_get_their_own(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    draft = (
        "SELECT s.superhero_name, s.publisher_name FROM superhero AS s "
        "JOIN publisher AS s ON s.publisher_id = s.id WHERE s.height_cm > 190"
    )
    # publisher_id only in superhero, publisher_name only in publisher; but "id" is in both: no new alias.
    fixed = autofix(draft, dialect="sqlite", catalog=catalog)
    assert fixed is None or "JOIN publisher AS s " in fixed
    draft = (
        "SELECT s.superhero_name, s.power_name FROM hero_power AS s "
        "JOIN superpower AS s ON s.power_id = s.power_id JOIN superhero AS h ON h.id = s.hero_id"
    )
    fixed = autofix(draft, dialect="sqlite", catalog=catalog)  # superpower has no power_id: no new alias
    assert fixed is None or "JOIN superpower AS s " in fixed
    draft = (
        "SELECT t.power_name, COUNT(t.hero_id) AS heroes FROM hero_power AS t "
        "JOIN superpower AS t ON t.power_id = t.id GROUP BY t.power_name"
    )
    fixed = autofix(draft, dialect="sqlite", catalog=catalog)
    assert fixed is not None and "JOIN superpower AS superpower ON t.power_id = superpower.id" in fixed
    checked = validate_sql(fixed, dialect="sqlite", catalog=catalog)
    assert sorted(rows(path, checked.sql)) == [("Flight", 1), ("Strength", 2)]


def test_a_shared_alias_joined_on_one_column_name_puts_one_side_on_each_table(
    heroes: tuple[Path, SchemaCatalog],
) -> None:
    path, catalog = heroes
    draft = (
        "SELECT s.airline_name, COUNT(s.flight_id) AS flights FROM flight AS s "
        "JOIN airline AS s ON s.airline_code = s.airline_code GROUP BY s.airline_name"
    )
    fixed = autofix(draft, dialect="sqlite", catalog=catalog)
    assert fixed is not None and "s.airline_code = airline.airline_code" in fixed
    checked = validate_sql(fixed, dialect="sqlite", catalog=catalog)
    assert sorted(rows(path, checked.sql)) == [("Delta", 2), ("United", 1)]


@pytest.mark.parametrize(
    ("draft", "fragment", "expected"),
    [
        # A qualifier naming nothing in the query goes to the one table of the query holding the column.
        (
            "SELECT T1.superhero_name, T3.power_name FROM superhero AS T1 JOIN hero_power AS T2 "
            "ON T1.id = T2.hero_id JOIN superpower AS T4 ON T2.power_id = T4.id WHERE T1.height_cm > 200",
            "T4.power_name",
            [("Hulk", "Strength")],
        ),
        # A qualifier naming a table the query lacks joins that table along its one key.
        (
            "SELECT DISTINCT airline.airline_name FROM flight AS t1 WHERE t1.time_zone_code = 'PST'",
            "JOIN airline AS airline ON t1.airline_code = airline.airline_code",
            [("Delta",), ("United",)],
        ),
    ],
)
def test_a_qualifier_the_query_does_not_define_is_resolved(
    heroes: tuple[Path, SchemaCatalog], draft: str, fragment: str, expected: list[tuple[str, ...]]
) -> None:
    path, catalog = heroes
    fixed = autofix(draft, dialect="sqlite", catalog=catalog)
    assert fixed is not None and fragment in fixed
    assert rows(path, validate_sql(fixed, dialect="sqlite", catalog=catalog).sql) == expected


def test_an_undefined_qualifier_with_no_single_owner_is_left_to_the_model(heroes: tuple[Path, SchemaCatalog]) -> None:
    catalog = heroes[1]
    # Two tables of the query hold "id"; "nosuch" is no table at all.
    assert (
        autofix(
            "SELECT T9.id FROM superhero AS T1 JOIN publisher AS T2 ON T1.publisher_id = T2.id",
            dialect="sqlite",
            catalog=catalog,
        )
        is None
    )
    assert autofix("SELECT nosuch.airline_name FROM flight AS t1", dialect="sqlite", catalog=catalog) is None
