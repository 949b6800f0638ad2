"""Join tidying on a real SQLite database: unread joins dropped, self-comparing conditions keyed."""

from __future__ import annotations

from pathlib import Path

import pytest
from heroes_db import rows

from nl2sql_agent import validate_sql
from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.safety.joins import tidy_joins


def test_a_join_nothing_reads_is_dropped_and_stops_repeating_rows(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    draft = (
        "SELECT s.superhero_name FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id WHERE s.height_cm > 190"
    )
    assert rows(path, draft) == [("Hulk",), ("Thor",), ("Thor",)]  # Thor once per power
    tidied = tidy_joins(draft, dialect="sqlite", catalog=catalog)
    assert tidied == "SELECT s.superhero_name FROM superhero AS s WHERE s.height_cm > 190"
    assert rows(path, tidied) == [("Hulk",), ("Thor",)]
    # A condition on bare names, whose key side cannot be told, still lets an unread join go.
    bare = "SELECT superhero.superhero_name FROM superhero JOIN hero_power ON superhero.id = hero_id"
    assert tidy_joins(bare, dialect="sqlite", catalog=catalog) == "SELECT superhero.superhero_name FROM superhero"


def test_an_average_no_longer_weighs_rows_by_an_unread_join(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    draft = "SELECT AVG(s.height_cm) FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id"
    tidied = tidy_joins(draft, dialect="sqlite", catalog=catalog)
    assert tidied == "SELECT AVG(s.height_cm) FROM superhero AS s"
    # Each hero counts once, however many powers it has.
    assert rows(path, tidied) == rows(path, "SELECT AVG(height_cm) FROM superhero")
    assert rows(path, tidied) != rows(path, draft)


@pytest.mark.parametrize(
    "draft",
    [
        # Read elsewhere in the query.
        "SELECT s.superhero_name, hp.power_id FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id",
        # Counting or grouping over the join: its rows are what is counted.
        "SELECT COUNT(*) FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id",
        "SELECT s.superhero_name FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id GROUP BY 1",
        # A condition that filters, not just matches a key; an outer join; a self-join.
        "SELECT s.superhero_name FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id AND hp.power_id = 1",
        "SELECT s.superhero_name FROM superhero AS s LEFT JOIN hero_power AS hp ON s.id = hp.hero_id",
        "SELECT a.superhero_name FROM superhero AS a JOIN superhero AS b ON a.height_cm = b.height_cm",
        # DISTINCT over a join: "heroes that have a power", the join is the filter.
        "SELECT DISTINCT s.superhero_name FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id",
        # Read by a bare column name only the joined table has, or through *.
        "SELECT power_id FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id",
        "SELECT * FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id",
    ],
)
def test_joins_that_carry_meaning_are_kept(heroes: tuple[Path, SchemaCatalog], draft: str) -> None:
    assert tidy_joins(draft, dialect="sqlite", catalog=catalog_of(heroes)) is None


def test_a_join_the_question_names_is_kept(heroes: tuple[Path, SchemaCatalog]) -> None:
    draft = "SELECT s.superhero_name FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id"
    catalog = catalog_of(heroes)
    assert tidy_joins(draft, dialect="sqlite", catalog=catalog, question="Which heroes have a hero power?") is None
    assert tidy_joins(draft, dialect="sqlite", catalog=catalog, question="List the heroes") is not None


def test_a_condition_comparing_a_column_with_itself_is_put_on_the_key(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    draft = (
        "SELECT s.superhero_name, p.publisher_name FROM superhero AS s "
        "JOIN publisher AS p ON p.id = p.id WHERE s.height_cm > 190"
    )
    assert len(rows(path, draft)) == 4  # a cross join: 2 heroes x 2 publishers
    tidied = tidy_joins(draft, dialect="sqlite", catalog=catalog)
    assert tidied is not None and "s.publisher_id = p.id" in tidied
    checked = validate_sql(tidied, dialect="sqlite", catalog=catalog)
    assert rows(path, checked.sql) == [("Hulk", "Marvel Comics"), ("Thor", "Marvel Comics")]


def test_a_condition_reading_only_an_earlier_table_is_put_on_the_key(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    draft = (
        "SELECT s.superhero_name, p.publisher_name FROM superhero AS s "
        "JOIN publisher AS p ON s.id = s.publisher_id WHERE s.height_cm > 190"
    )
    expected = [("Hulk", "Marvel Comics"), ("Thor", "Marvel Comics")]
    assert rows(path, draft) != expected  # never reads p: a filtered cross join
    tidied = tidy_joins(draft, dialect="sqlite", catalog=catalog)
    assert tidied is not None and "s.publisher_id = p.id" in tidied and "s.id = s.publisher_id" not in tidied
    checked = validate_sql(tidied, dialect="sqlite", catalog=catalog)
    assert rows(path, checked.sql) == expected
    # Two columns of one table in a condition that also reads the joined table: a real (odd) condition, kept.
    kept = "SELECT s.superhero_name FROM superhero AS s JOIN publisher AS p ON s.id = s.publisher_id AND p.id = 1"
    assert tidy_joins(kept, dialect="sqlite", catalog=catalog) is None


def test_two_tables_no_key_links_are_joined_through_their_one_link_table(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    draft = (
        "SELECT s.superhero_name, p.power_name FROM superhero AS s "
        "JOIN superpower AS p ON s.id = p.id WHERE s.height_cm > 190"
    )
    assert rows(path, draft) == [("Thor", "Flight")]  # hero 1 with power 1, by the coincidence of ids
    tidied = tidy_joins(draft, dialect="sqlite", catalog=catalog)
    assert tidied is not None and "JOIN hero_power" in tidied
    checked = validate_sql(tidied, dialect="sqlite", catalog=catalog)
    assert sorted(rows(path, checked.sql)) == [("Hulk", "Strength"), ("Thor", "Flight"), ("Thor", "Strength")]


@pytest.mark.parametrize(
    "draft",
    [
        # A key links the two tables: which columns to match is the model's call.
        "SELECT s.superhero_name FROM superhero AS s JOIN publisher AS p ON s.id = p.id",
        # No table holds a key to both columns: nothing to put between them.
        "SELECT s.superhero_name, f.flight_id FROM superhero AS s JOIN flight AS f ON s.id = f.flight_id",
        # A join nothing reads goes instead of gaining a link table.
        "SELECT s.superhero_name FROM superhero AS s JOIN superpower AS p ON s.id = p.id",
    ],
)
def test_joins_with_no_single_link_table_are_not_bridged(heroes: tuple[Path, SchemaCatalog], draft: str) -> None:
    tidied = tidy_joins(draft, dialect="sqlite", catalog=catalog_of(heroes))
    assert tidied is None or "hero_power" not in tidied


def test_an_exists_that_reads_nothing_outside_is_correlated_on_the_key(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    draft = (
        "SELECT s.superhero_name FROM superhero AS s WHERE NOT EXISTS (SELECT 1 FROM hero_power AS hp "
        "JOIN superpower AS p ON hp.power_id = p.id WHERE p.power_name = 'Flight')"
    )
    assert rows(path, draft) == []  # someone can fly, so no hero is without flight
    tidied = tidy_joins(draft, dialect="sqlite", catalog=catalog)
    assert tidied is not None and "hp.hero_id = s.id" in tidied
    assert sorted(rows(path, validate_sql(tidied, dialect="sqlite", catalog=catalog).sql)) == [("Batman",), ("Hulk",)]


@pytest.mark.parametrize(
    "draft",
    [
        # Correlated already.
        "SELECT s.superhero_name FROM superhero AS s WHERE EXISTS "
        "(SELECT 1 FROM hero_power AS hp WHERE hp.hero_id = s.id)",
        # A bare column might be the outer query's: left alone.
        "SELECT s.superhero_name FROM superhero AS s WHERE EXISTS (SELECT 1 FROM hero_power AS hp WHERE hero_id = 1)",
        # Two keys (rival.a_id, rival.b_id) to the outer table: which one is the model's call.
        "SELECT s.superhero_name FROM superhero AS s WHERE EXISTS (SELECT 1 FROM rival AS r WHERE r.note = 'x')",
    ],
)
def test_an_exists_with_no_single_key_to_the_outer_query_is_kept(
    heroes: tuple[Path, SchemaCatalog], draft: str
) -> None:
    assert tidy_joins(draft, dialect="sqlite", catalog=catalog_of(heroes)) is None


def test_no_key_or_two_keys_leave_a_self_comparison_to_the_validator_and_model(
    heroes: tuple[Path, SchemaCatalog],
) -> None:
    catalog = catalog_of(heroes)
    no_key = "SELECT p.weight, s.superhero_name FROM pets AS p JOIN superhero AS s ON s.id = s.id"
    two_keys = "SELECT r.note, s.superhero_name FROM rival AS r JOIN superhero AS s ON s.id = s.id"
    assert tidy_joins(no_key, dialect="sqlite", catalog=catalog) is None
    assert tidy_joins(two_keys, dialect="sqlite", catalog=catalog) is None
    assert tidy_joins("not SQL at all (", dialect="sqlite", catalog=catalog) is None


def test_under_a_count_a_link_table_the_question_never_names_is_dropped(heroes: tuple[Path, SchemaCatalog]) -> None:
    path, catalog = heroes
    # "publications at each conference": the author link repeats each publication once per author.
    draft = (
        "SELECT c.name, COUNT(w.pid) AS n FROM conference AS c JOIN publication AS p ON p.cid = c.cid "
        "JOIN writes AS w ON p.pid = w.pid GROUP BY c.name"
    )
    question = "How many publications were presented at each conference?"
    tidied = tidy_joins(draft, dialect="sqlite", catalog=catalog, question=question)
    assert tidied == (
        "SELECT c.name, COUNT(p.pid) AS n FROM conference AS c JOIN publication AS p ON p.cid = c.cid GROUP BY c.name"
    )
    assert rows(path, tidied) == [("AAAS", 1), ("ICML", 2)]
    # A later join read through the dropped table's key is put on the key it equals.
    through = (
        "SELECT c.name, COUNT(*) FROM conference AS c JOIN publication AS p ON c.cid = p.cid "
        "JOIN writes AS w ON p.pid = w.pid JOIN publication AS q ON w.pid = q.pid GROUP BY c.name"
    )
    tidied = tidy_joins(through, dialect="sqlite", catalog=catalog, question=question)
    assert tidied is not None and "writes" not in tidied and "ON p.pid = q.pid" in tidied


@pytest.mark.parametrize(
    ("draft", "question"),
    [
        # The question names what only the joined table is about: its rows are counted.
        (
            "SELECT c.name, COUNT(*) FROM conference AS c JOIN publication AS p ON p.cid = c.cid "
            "JOIN writes AS w ON p.pid = w.pid GROUP BY c.name",
            "How many writes were made at each conference?",
        ),
        # A key of two names ("the most frequent destination"): the join picks which rows count.
        (
            "SELECT s.superhero_name, COUNT(*) FROM superhero AS s JOIN hero_power AS hp ON s.id = hp.hero_id "
            "GROUP BY s.superhero_name",
            "Which name comes up most often?",
        ),
        # Another column of the joined table is read.
        (
            "SELECT c.name, COUNT(DISTINCT w.aid) FROM conference AS c JOIN publication AS p ON p.cid = c.cid "
            "JOIN writes AS w ON p.pid = w.pid GROUP BY c.name",
            "How many publications were presented at each conference?",
        ),
    ],
)
def test_under_a_count_joins_that_carry_meaning_are_kept(
    heroes: tuple[Path, SchemaCatalog], draft: str, question: str
) -> None:
    assert tidy_joins(draft, dialect="sqlite", catalog=catalog_of(heroes), question=question) is None


def catalog_of(heroes: tuple[Path, SchemaCatalog]) -> SchemaCatalog:
    return heroes[1]
