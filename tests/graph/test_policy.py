"""Who may see what, through the whole graph: hidden columns never reach a prompt or a result; row filters hold."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from nl2sql_agent import Agent, SqlPolicy
from nl2sql_agent.models.fake import FakeChatModel, FakeRule

MakeAgent = Callable[..., Agent]

POLICY = SqlPolicy(
    hidden_columns=frozenset({"customers.email", "customers.phone", "employees.salary"}),
    row_filters={"stores": "region_id = 3"},
)
HIDDEN_WORDS = re.compile(r"\b(email|phone|salary)\b|@example")


def all_prompt_text(model: FakeChatModel) -> str:
    return "\n".join("\n".join(call["messages"]) for call in model.calls).lower()


def scalar(db: Path, sql: str) -> object:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchone()[0]


def test_prompts_never_name_hidden_columns_or_their_values(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT first_name, city FROM customers LIMIT 3", role="sql")])
    agent = make_agent(model)
    answer = agent.ask("List three customers with their city and contact details", policy=POLICY)
    assert answer.status == "answered"
    text = all_prompt_text(model)
    assert "customers" in text  # the table itself is visible...
    assert HIDDEN_WORDS.search(text) is None  # ...its hidden columns and their samples are not


def test_sql_reading_a_hidden_column_is_refused(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT c.first_name, c.email FROM customers AS c", role="sql")])
    answer = make_agent(model).ask("Show me how to reach our customers", policy=POLICY)
    assert answer.status == "refused"
    assert "customers.email" in answer.answer and answer.rows == () and answer.sql is None
    assert [c["role"] for c in model.calls].count("sql") == 1  # no repair attempts on a permission refusal


def test_hidden_column_in_a_filter_or_subquery_is_refused(make_agent: MakeAgent) -> None:
    model = FakeChatModel(
        rules=[
            FakeRule(
                "SELECT COUNT(*) FROM employees "
                "WHERE employee_id IN (SELECT employee_id FROM employees WHERE salary > 90000)",
                role="sql",
            )
        ]
    )
    answer = make_agent(model).ask("How many well-paid employees are there?", policy=POLICY)
    assert answer.status == "refused" and "employees.salary" in answer.answer


def test_question_naming_hidden_data_is_refused_before_any_model_call(make_agent: MakeAgent) -> None:
    model = FakeChatModel()
    answer = make_agent(model).ask("What is the average salary by title?", policy=POLICY)
    assert answer.status == "refused" and "employees.salary" in answer.answer
    assert model.calls == []


def test_select_star_does_not_leak_hidden_columns(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT * FROM customers LIMIT 5", role="sql")])
    answer = make_agent(model, summarize_with_model=False).ask("Show five customers", policy=POLICY)
    assert answer.status == "answered" and len(answer.rows) == 5
    assert {"email", "phone"}.isdisjoint(answer.columns) and "first_name" in answer.columns
    assert not any("@" in str(value) for row in answer.rows for value in row)


def test_without_a_policy_the_same_query_sees_everything(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT * FROM customers LIMIT 5", role="sql")])
    answer = make_agent(model, summarize_with_model=False).ask("Show five customers")
    assert "email" in answer.columns


def test_row_filters_apply_to_direct_reads_and_joins(make_agent: MakeAgent, sample_db_path: Path) -> None:
    model = FakeChatModel(
        rules=[
            FakeRule(
                "SELECT COUNT(*) FROM sales s JOIN stores st ON s.store_id = st.store_id",
                role="sql",
                when="sales were made in stores",
            ),
            FakeRule("SELECT COUNT(*) FROM stores", role="sql"),
        ]
    )
    agent = make_agent(model, summarize_with_model=False)
    stores = agent.ask("How many stores are there?", policy=POLICY)
    assert stores.rows == ((scalar(sample_db_path, "SELECT COUNT(*) FROM stores WHERE region_id = 3"),),)
    sales = agent.ask("How many sales were made in stores?", policy=POLICY)
    expected = scalar(
        sample_db_path,
        "SELECT COUNT(*) FROM sales s JOIN stores st ON s.store_id = st.store_id WHERE st.region_id = 3",
    )
    assert sales.rows == ((expected,),)
    assert expected < scalar(sample_db_path, "SELECT COUNT(*) FROM sales")


@pytest.mark.parametrize("policy", [SqlPolicy(allowed_tables=frozenset({"sales", "products"}))])
def test_tables_outside_the_policy_are_invisible_and_refused(make_agent: MakeAgent, policy: SqlPolicy) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) FROM customers", role="sql")])
    answer = make_agent(model).ask("How many customers bought something?", policy=policy)
    assert answer.status == "refused" and "customers" in answer.answer
    assert "create table customers" not in all_prompt_text(model)
