"""A query that finds nothing has its text filters looked up: case and blanks fixed in place, misplaced values
hinted."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from nl2sql_agent import Agent
from nl2sql_agent.errors import SQLValidationError
from nl2sql_agent.lexicon import given_names
from nl2sql_agent.models.fake import FakeChatModel, FakeRule
from nl2sql_agent.safety.policy import SqlPolicy
from nl2sql_agent.values import MAX_NAME_COLUMNS, absent_values, missing_keys, stored_names

MakeAgent = Callable[..., Agent]


def test_a_value_in_another_letter_case_is_corrected_without_the_model(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) FROM sales WHERE payment_method = 'cash'", role="sql")])
    answer = make_agent(model, summarize_with_model=False).ask("How many sales were paid in cash?")
    assert answer.status == "answered" and answer.attempts == 1
    assert answer.sql is not None and "'Cash'" in answer.sql
    assert answer.rows[0][0] > 0
    assert [c["role"] for c in model.calls] == ["sql"]


def test_a_value_held_by_another_column_is_a_hint_for_the_repair(make_agent: MakeAgent) -> None:
    drafts = [
        "SELECT COUNT(*) FROM stores WHERE store_name = 'Fargo'",
        "SELECT COUNT(*) FROM stores WHERE city = 'Fargo'",
    ]
    model = FakeChatModel(queues={"sql": drafts})
    answer = make_agent(model, summarize_with_model=False).ask("How many stores are in Fargo?")
    assert answer.status == "answered" and answer.attempts == 2 and answer.rows[0][0] >= 1
    repair_prompt = model.calls[-1]["messages"][-1]
    assert "no row has stores.store_name = 'Fargo'; that value is in stores.city" in repair_prompt


def test_a_key_compared_with_a_name_reads_the_named_row_without_the_model(make_agent: MakeAgent) -> None:
    # stores.region_id references regions; 'west' is a region's name there (in another letter case).
    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) FROM stores WHERE region_id = 'west'", role="sql")])
    answer = make_agent(model, summarize_with_model=False).ask("How many stores are in the West region?")
    assert answer.status == "answered" and answer.rows == ((6,),)
    assert answer.sql is not None and "region_name = 'West'" in answer.sql
    assert [c["role"] for c in model.calls] == ["sql"]


def _airlines_db(tmp_path: Path) -> str:
    # No declared key: flights.airline is named after the airlines table, whose one primary key it holds.
    path = tmp_path / "flights.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE airlines (uid INTEGER PRIMARY KEY, airline TEXT, abbreviation TEXT)")
        conn.execute("CREATE TABLE flights (flight_no INTEGER, airline INTEGER)")
        conn.executemany(
            "INSERT INTO airlines VALUES (?, ?, ?)", [(1, "JetBlue Airways", "JetBlue"), (2, "Delta", "Delta")]
        )
        conn.executemany("INSERT INTO flights VALUES (?, ?)", [(10, 1), (11, 1), (12, 2)])
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    ("value", "rows"),
    [
        ("JetBlue Airways", ((2,),)),
        # Two columns of the airline's row hold "Delta": the model, not the lookup, must choose.
        ("Delta", ((0,),)),
    ],
)
def test_a_key_named_after_a_table_reads_the_named_row(
    make_agent: MakeAgent, tmp_path: Path, value: str, rows: tuple[tuple[int, ...], ...]
) -> None:
    model = FakeChatModel(rules=[FakeRule(f"SELECT COUNT(*) FROM flights WHERE airline = '{value}'", role="sql")])
    answer = make_agent(model, summarize_with_model=False, db_url=_airlines_db(tmp_path)).ask("How many flights?")
    assert answer.status == "answered" and answer.rows == rows


def test_a_hidden_column_is_never_searched_or_named(make_agent: MakeAgent) -> None:
    drafts = ["SELECT COUNT(*) FROM stores WHERE store_name = 'Fargo'", "SELECT COUNT(*) FROM stores"]
    model = FakeChatModel(queues={"sql": drafts})
    policy = SqlPolicy(hidden_columns=frozenset({"stores.city"}))
    answer = make_agent(model, summarize_with_model=False).ask("How many stores are in Fargo?", policy=policy)
    # Only the hidden column holds 'Fargo': nothing is hinted, and the empty count is the answer.
    assert [c["role"] for c in model.calls] == ["sql"]
    assert answer.status == "answered" and answer.rows == ((0,),)


def test_blanks_around_a_stored_value_are_matched_in_place(make_agent: MakeAgent) -> None:
    model = FakeChatModel(
        rules=[FakeRule("SELECT COUNT(*) FROM sales WHERE payment_method = ' credit card '", role="sql")]
    )
    answer = make_agent(model, summarize_with_model=False).ask("How many sales were paid by credit card?")
    assert answer.sql is not None and "'Credit Card'" in answer.sql and answer.rows[0][0] > 0


def test_nothing_is_looked_up_once_no_repair_remains(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) FROM stores WHERE store_name = 'Atlantis'", role="sql")])
    answer = make_agent(model, summarize_with_model=False, max_repairs=0).ask("How many stores are in Atlantis?")
    assert answer.status == "answered" and answer.rows == ((0,),)
    # An empty result with nothing to look up is an answer too, not a failure.
    answer = make_agent(model, summarize_with_model=False).ask("How many stores are in Atlantis?")
    assert answer.status == "answered" and answer.rows == ((0,),) and answer.attempts == 1


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("Where is Amy Firth's hometown?", ["Amy Firth"]),
        ('Which nation is known as "The Land of Smiles"?', ["The Land of Smiles"]),
        ('In Orwell\'s "Animal Farm," what animal is Stalin?', ["Animal Farm", "Orwell", "Stalin"]),
        ("How many customers do we have?", []),
        ("I want the sales in New York City.", ["New York City"]),
        # Each sentence's first word is capitalised as such; an abbreviation's full stop ends no sentence.
        ("Thanks, that's all for today. Goodbye!", []),
        ("Sales in St. Louis? And Fargo?", ["St. Louis", "Fargo"]),
        ("How many products are in the Toys & Games category? Or Books &", ["Toys & Games", "Books"]),
    ],
)
def test_given_names_are_quoted_text_and_capitalised_runs(question: str, names: list[str]) -> None:
    assert given_names(question) == names


def test_stored_names_searches_the_data_the_caller_may_read(make_agent: MakeAgent) -> None:
    agent = make_agent(FakeChatModel())
    question = "Which stores are in Fargo?"
    # Fargo is a store's city (not a sampled value), found by a query in any letter case; tables the
    # question names are searched first.
    assert stored_names(["FARGO", "Atlantis"], question, agent.context()) == ["stores.city"]
    assert stored_names(["Atlantis"], question, agent.context()) == []
    # Blanks aside: a question writes "home&kitchen" for the stored "Home & Kitchen".
    assert stored_names(["home&kitchen"], "Which products are in home&kitchen?", agent.context()) == [
        "product_categories.category_name"
    ]
    hidden = agent.context(SqlPolicy(hidden_columns=frozenset({"stores.city", "customers.city"})))
    assert stored_names(["Fargo"], question, hidden) == []


def test_a_quoted_value_the_data_holds_nowhere_ends_an_empty_query_in_a_refusal(
    refusal_after_one_draft: Callable[[str, str], str],
) -> None:
    draft = "SELECT COUNT(*) FROM stores WHERE city LIKE 'Atlantis'"
    reply = refusal_after_one_draft(draft, 'How many stores are in "Atlantis"?')
    assert 'it holds no "Atlantis".' in reply


@pytest.mark.parametrize(
    ("question", "sql"),
    [
        # Held, but not with the other filter: an empty answer is the answer.
        (
            'How many stores in "Fargo" have a negative id?',
            "SELECT COUNT(*) FROM stores WHERE city = 'Fargo' AND store_id < 0",
        ),
        # A full name is held split over first and last name.
        ('What is the salary of "Nancy Baker"?', "SELECT salary FROM employees WHERE first_name = 'Nancy Baker'"),
        # One word is held inside a value ("Fargo"), as a pattern would mean it.
        ("How many stores have 'arg' in their city?", "SELECT COUNT(*) FROM stores WHERE city = 'arg'"),
        # The query never filtered on the quoted value: the model, not the data, is to blame.
        ('How many stores are in "Atlantis"?', "SELECT COUNT(*) FROM stores WHERE store_id < 0"),
    ],
)
def test_an_empty_query_stays_an_answer_unless_the_quoted_value_is_missing(
    make_agent: MakeAgent, question: str, sql: str
) -> None:
    model = FakeChatModel(rules=[FakeRule(sql, role="sql")])
    answer = make_agent(model, summarize_with_model=False, max_repairs=0).ask(question)
    assert answer.status == "answered"


def test_a_key_value_no_row_holds_is_refused_before_drafting(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) FROM sales WHERE store_id = 1", role="sql")])
    agent = make_agent(model, summarize_with_model=False)
    answer = agent.ask("How many sales did the store with `store_id` 999 make?")
    assert answer.status == "refused" and "it has no row with store_id 999." in answer.answer
    assert model.calls == []
    # A key that is held, a measure compared with a number, and a number after no column name are asked.
    for question in (
        "How many sales did store_id 1 make?",
        "How many sales above sale_id 999999 are there?",
        "What are the top 999 stores by sales?",
    ):
        assert agent.ask(question).status == "answered", question
    assert len(model.calls) == 3


def test_a_lookup_that_fails_concludes_nothing(make_agent: MakeAgent, tmp_path: Path, sample_db_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy(sample_db_path, copy)
    agent = make_agent(FakeChatModel(), db_url=f"sqlite:///{copy}")
    ctx = agent.context()
    assert missing_keys("Sales of store_id 999?", ctx) == ["store_id 999"]
    assert absent_values("SELECT 1 FROM stores WHERE city = 'Atlantis'", 'Stores in "Atlantis"?', ctx) == ["Atlantis"]
    agent.close()
    copy.unlink()  # every lookup now fails: "no such row" must not be concluded from that
    assert missing_keys("Sales of store_id 999?", ctx) == []
    assert absent_values("SELECT 1 FROM stores WHERE city = 'Atlantis'", 'Stores in "Atlantis"?', ctx) == []


def test_a_name_the_data_lacks_and_no_draft_used_ends_a_failed_repair_in_a_refusal(make_agent: MakeAgent) -> None:
    drafts = ["SELECT COUNT(*) FROM sales WHERE venue_code = 'KRF'"] * 2
    model = FakeChatModel(queues={"sql": drafts})
    question = "How many sales did the Kalamazoo Riverfront store make?"
    answer = make_agent(model, summarize_with_model=False).ask(question)
    assert answer.status == "refused" and answer.attempts == 2
    assert 'it holds no "Kalamazoo Riverfront".' in answer.answer


@pytest.mark.parametrize(
    ("question", "draft"),
    [
        # A word of the name is held ("Nancy", a first name): the name may be the data's, written otherwise.
        ("How many sales did the Nancy Riverfront store make?", "SELECT COUNT(*) FROM sales WHERE venue_code = 'NRF'"),
        # The draft used the name: its failure is the model's, not the data's.
        (
            "How many sales did the Kalamazoo Riverfront store make?",
            "SELECT COUNT(*) FROM stores WHERE store_name = 'Kalamazoo Riverfront' AND venue_code = 1",
        ),
        # One word is no name to conclude on.
        ("How many sales did the Kalamazoo store make?", "SELECT COUNT(*) FROM sales WHERE venue_code = 'KRF'"),
    ],
)
def test_a_failed_repair_stays_an_error_when_the_name_is_tied_to_the_data(
    make_agent: MakeAgent, question: str, draft: str
) -> None:
    model = FakeChatModel(queues={"sql": [draft] * 2})
    with pytest.raises(SQLValidationError) as raised:
        make_agent(model, summarize_with_model=False).ask(question)
    assert "venue_code" in raised.value.message


def test_name_columns_are_searched_before_keys_and_dates(make_agent: MakeAgent, tmp_path: Path) -> None:
    # The relevant table has more key columns than the search budget; the name lives in another table.
    keys = ", ".join(f"link_{n}_id TEXT" for n in range(MAX_NAME_COLUMNS + 6))
    path = tmp_path / "club.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE event (event_id TEXT PRIMARY KEY, event_date TEXT, {keys})")
        conn.execute("CREATE TABLE member (member_id TEXT PRIMARY KEY, first_name TEXT)")
        names = [f"Name{n:03d}" for n in range(200)] + ["Zoya"]
        conn.executemany("INSERT INTO member VALUES (?, ?)", [(f"m{n}", name) for n, name in enumerate(names)])
    context = make_agent(FakeChatModel(), db_url=f"sqlite:///{path}").context()
    assert "Zoya" not in context.catalog.tables["member"].column("first_name").samples  # found by a query
    assert stored_names(["Zoya"], "Which event did Zoya attend?", context) == ["member.first_name"]


def _students_db(tmp_path: Path, internships: list[str | None]) -> str:
    path = tmp_path / "school.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE student (student_id INTEGER PRIMARY KEY, name TEXT, internship TEXT)")
        rows = [(n, f"Student {n}", internship) for n, internship in enumerate(internships)]
        conn.executemany("INSERT INTO student VALUES (?, ?, ?)", rows)
    return f"sqlite:///{path}"


def test_a_filter_on_a_column_no_row_fills_ends_an_empty_query_in_a_refusal(
    make_agent: MakeAgent, tmp_path: Path
) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) FROM student WHERE internship LIKE '%Tech%'", role="sql")])
    agent = make_agent(model, summarize_with_model=False, db_url=_students_db(tmp_path, [None] * 5))
    answer = agent.ask("How many students interned in the technology industry?")
    assert answer.status == "refused" and [c["role"] for c in model.calls] == ["sql"]
    assert "no row records a value in student.internship" in answer.answer


@pytest.mark.parametrize(
    ("internships", "sql"),
    [
        # One row holds a value (not among the samples, which the catalog read first): zero is the answer.
        ([None] * 600 + ["Acme"], "SELECT COUNT(*) FROM student WHERE internship LIKE '%Tech%'"),
        # Asking for the empty rows is no comparison: they are found.
        ([None] * 5, "SELECT COUNT(*) FROM student WHERE internship IS NULL AND student_id < 0"),
        # No rows at all: the table is empty, not the column.
        ([], "SELECT COUNT(*) FROM student WHERE internship LIKE '%Tech%'"),
    ],
)
def test_an_empty_query_on_a_filled_column_stays_an_answer(
    make_agent: MakeAgent, tmp_path: Path, internships: list[str | None], sql: str
) -> None:
    model = FakeChatModel(rules=[FakeRule(sql, role="sql")])
    agent = make_agent(model, summarize_with_model=False, db_url=_students_db(tmp_path, internships))
    assert agent.context().catalog.tables["student"].column("internship").samples == ()
    answer = agent.ask("How many students interned in the technology industry?")
    assert answer.status == "answered" and answer.rows == ((0,),)
