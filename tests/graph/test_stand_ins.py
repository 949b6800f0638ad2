"""A draft that answers with a neighbouring column ("impact factor" from citations) is refused, not run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nl2sql_agent import Agent
from nl2sql_agent.db.types import ColumnInfo, SchemaCatalog, TableInfo
from nl2sql_agent.intent import schema_vocabulary
from nl2sql_agent.measures import StandIn, stand_in
from nl2sql_agent.models.fake import FakeChatModel, FakeRule

MakeAgent = Callable[..., Agent]
Refuse = Callable[[str, str], str]


def _catalog(*tables: tuple[str, tuple[str, ...]]) -> SchemaCatalog:
    return SchemaCatalog(
        dialect="sqlite",
        tables={
            name: TableInfo(name=name, columns=tuple(ColumnInfo(name=c, type="REAL") for c in columns))
            for name, columns in tables
        },
    )


ACADEMIC = _catalog(("publication", ("pid", "title", "year", "citation_num")), ("journal", ("jid", "name")))
GEOGRAPHY = _catalog(("lake", ("lake_name", "area", "country_name")), ("river", ("river_name", "length")))
ATIS = _catalog(("flight", ("flight_id", "departure_time", "from_airport")), ("product", ("unit_price",)))
CARS = _catalog(("cars_data", ("id", "mpg", "horsepower")))
SALES = _catalog(("sales", ("sale_id", "sale_price", "category", "cost")), ("coupons", ("cid", "code")))
ADVISING = _catalog(
    ("instructor", ("instructor_id", "name")), ("offering_instructor", ("offering_id", "instructor_id"))
)
BUSIEST = (
    "SELECT name FROM instructor JOIN offering_instructor USING (instructor_id) GROUP BY name ORDER BY COUNT(*) DESC"
)


def _stand_in(catalog: SchemaCatalog, question: str, sql: str, hint: str = "") -> StandIn | None:
    vocabulary = schema_vocabulary(catalog)
    return stand_in(sql, question, dialect="sqlite", vocabulary=vocabulary, catalog=catalog, hint=hint)


@pytest.mark.parametrize(
    ("catalog", "question", "sql", "expected"),
    [
        # The draft's own label names what the schema lacks.
        (
            ACADEMIC,
            "What is the average journal impact factor of publications in 2020?",
            "SELECT AVG(citation_num) AS average_journal_impact_factor FROM publication WHERE year = 2020",
            StandIn(asked="impact factor", column="citation_num"),
        ),
        # Scaled by a constant, the aggregate is still what the label names.
        (
            SALES,
            "What is the average carbon footprint of our sales?",
            "SELECT ROUND(AVG(sale_price) / 1000, 2) AS average_carbon_footprint FROM sales",
            StandIn(asked="carbon footprint", column="sale_price"),
        ),
        # The column shares the question's modifier (departure), not its noun (gate, which no column has).
        (
            ATIS,
            "What is the average departure gate number for flights from each airport?",
            "SELECT from_airport, AVG(departure_time) AS average_departure_time FROM flight GROUP BY from_airport",
            StandIn(asked="departure gate", column="departure_time"),
        ),
        # A dimension no column is named after, read from a column of another one.
        (
            GEOGRAPHY,
            "How does the average volume of lakes vary between countries?",
            "SELECT country_name, AVG(lake.area) FROM lake GROUP BY country_name",
            StandIn(asked="volume", column="area"),
        ),
        # Rows counted for an amount in a unit of measure that no column records.
        (
            ADVISING,
            "Which instructor has the most office hours scheduled?",
            BUSIEST,
            StandIn(asked="office hours", column="COUNT(*)"),
        ),
        (
            _catalog(("trip", ("trip_id", "driver"))),
            "How many miles did each driver drive?",
            "SELECT driver, COUNT(trip_id) FROM trip GROUP BY driver",
            StandIn(asked="miles", column="COUNT(trip_id)"),
        ),
        # Half of what was asked is there: the other half still has no column.
        (
            GEOGRAPHY,
            "What are the area and volume of each lake?",
            "SELECT lake_name, area FROM lake",
            StandIn(asked="volume", column="area"),
        ),
    ],
)
def test_a_neighbouring_column_is_told_from_what_was_asked(
    catalog: SchemaCatalog, question: str, sql: str, expected: StandIn
) -> None:
    assert _stand_in(catalog, question, sql) == expected


@pytest.mark.parametrize(
    ("catalog", "question", "sql"),
    [
        # An abbreviation: mpg is what "miles per gallon" shortens to.
        (CARS, "What is the average miles per gallon?", "SELECT AVG(mpg) AS average_miles_per_gallon FROM cars_data"),
        # Words that name a quantity in general, not an attribute.
        (SALES, "What is the total revenue?", "SELECT SUM(sale_price) AS total_revenue FROM sales"),
        # One word in two inflections ("injuries", ``injured``); a superlative says how, not what.
        (
            _catalog(("death", ("id", "injured"))),
            "What is the average number of injuries caused each time?",
            "SELECT AVG(injured) AS average_injuries FROM death",
        ),
        (
            _catalog(("transcripts", ("transcript_id", "transcript_date"))),
            "What is the earliest date of a transcript release?",
            "SELECT MIN(transcript_date) AS earliest FROM transcripts",
        ),
        # A word the query filters on names the rows, not the measure.
        (
            SALES,
            "How much was spent on food?",
            "SELECT SUM(cost) AS food_spending FROM sales WHERE category = 'Food'",
        ),
        # A label over two columns names their combination, which no one column need hold.
        (SALES, "What is the average margin?", "SELECT AVG(sale_price) - AVG(cost) AS average_margin FROM sales"),
        # A participle says which rows were counted.
        (SALES, "How many coupons were issued?", "SELECT SUM(cid) AS coupons_issued FROM coupons"),
        # The column's own noun is asked ("list price" for unit_price), or a unit ends its name.
        (ATIS, "What is the average unit retail price of products?", "SELECT AVG(unit_price) FROM product"),
        (
            _catalog(("hero", ("name", "weight_kg"))),
            "Which heroes have weight exceeding the average?",
            "SELECT name FROM hero WHERE weight_kg > (SELECT AVG(weight_kg) FROM hero)",
        ),
        # A label the question never used is the model's, not the question's.
        (ACADEMIC, "What is the average citation count?", "SELECT AVG(citation_num) AS avg_impact FROM publication"),
        # The asked dimension is the one read, or a column carries it.
        (GEOGRAPHY, "What is the average area of lakes?", "SELECT AVG(area) FROM lake"),
        (GEOGRAPHY, "How long is the longest river?", "SELECT MAX(length) FROM river"),
        (
            _catalog(("lake", ("lake_name", "area", "volume_km3"))),
            "Which lake has the largest volume?",
            "SELECT lake_name FROM lake ORDER BY area DESC LIMIT 1",
        ),
        # A count of things, not of a unit; and a unit whose dimension a column records (the count is then
        # a slip for the repair loop, not a stand-in for what the data lacks).
        (ADVISING, "Which instructor teaches the most offerings?", BUSIEST),
        (
            _catalog(("instructor", ("instructor_id", "name")), ("office_hour", ("instructor_id", "duration"))),
            "Which instructor has the most office hours?",
            "SELECT name FROM instructor JOIN office_hour USING (instructor_id) GROUP BY name ORDER BY COUNT(*) DESC",
        ),
        (
            _catalog(("trip", ("trip_id", "driver", "distance"))),
            "How many miles did each driver drive?",
            "SELECT driver, COUNT(trip_id) FROM trip GROUP BY driver",
        ),
        # "second" as an ordinal is no unit of time.
        (ADVISING, "Who has the most second offerings?", BUSIEST),
        # Not SQL at all: nothing to judge.
        (ACADEMIC, "What is the average impact factor?", "SELECT AVG(citation_num AS x FROM"),
    ],
)
def test_paraphrases_and_filters_are_not_stand_ins(catalog: SchemaCatalog, question: str, sql: str) -> None:
    assert _stand_in(catalog, question, sql) is None


def test_a_term_the_callers_hint_defines_is_known() -> None:
    question = "What is the average journal impact factor of publications?"
    sql = "SELECT AVG(citation_num) AS average_journal_impact_factor FROM publication"
    assert _stand_in(ACADEMIC, question, sql) is not None
    assert _stand_in(ACADEMIC, question, sql, hint="impact factor means citation_num") is None


def test_a_stand_in_draft_is_refused_before_it_runs(refusal_after_one_draft: Refuse) -> None:
    # One draft, no repair: another draft would reach for the same neighbour.
    draft = "SELECT AVG(unit_cost) AS average_carbon_footprint FROM products"
    reply = refusal_after_one_draft(draft, "What is the average carbon footprint of our products?")
    assert 'no column records "carbon footprint"; the closest is unit_cost.' in reply


def test_a_count_for_hours_is_refused_before_it_runs(refusal_after_one_draft: Refuse) -> None:
    draft = "SELECT e.first_name FROM employees e JOIN sales s ON s.employee_id = e.employee_id GROUP BY e.first_name "
    reply = refusal_after_one_draft(draft + "ORDER BY COUNT(*) DESC LIMIT 1", "Which employee worked the most hours?")
    assert 'no column records "hours"; the closest is COUNT(*).' in reply


def test_the_same_column_under_its_own_name_is_answered(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT AVG(unit_cost) AS average_unit_cost FROM products", role="sql")])
    answer = make_agent(model, summarize_with_model=False).ask("What is the average unit cost of our products?")
    assert answer.status == "answered" and answer.rows and answer.rows[0][0] > 0
