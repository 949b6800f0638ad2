"""Conversation memory through LangGraph checkpointers: follow-ups across separate invocations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nl2sql_agent import Agent, CheckpointerError, SQLValidationError
from nl2sql_agent.models.fake import FakeChatModel, FakeRule
from nl2sql_agent.nodes.turn import KEPT_TURNS

MakeAgent = Callable[..., Agent]

FIRST_SQL = (
    "SELECT product_name, SUM(total_amount) AS revenue FROM sales "
    "WHERE strftime('%Y', sale_date) = '2024' GROUP BY product_name ORDER BY revenue DESC LIMIT 5"
)
SECOND_SQL = FIRST_SQL.replace("'2024'", "'2023'")


def conversation_model() -> FakeChatModel:
    # The follow-up's prompt holds the first question too (as history), so its rule comes first.
    return FakeChatModel(
        rules=[
            FakeRule(SECOND_SQL, role="sql", when="and in 2023"),
            FakeRule(FIRST_SQL, role="sql", when="top 5 products by revenue in 2024"),
        ]
    )


def run_follow_up(make_agent: MakeAgent, memory_url: str) -> None:
    first_model, second_model = conversation_model(), conversation_model()
    # Two separate agents (as two CLI runs or two API replicas would be) share only the checkpointer.
    first = make_agent(first_model, checkpointer_url=memory_url, summarize_with_model=False)
    answer = first.ask("Top 5 products by revenue in 2024", thread_id="conv-1")
    assert answer.status == "answered" and len(answer.rows) == 5
    first.close()

    second = make_agent(second_model, checkpointer_url=memory_url, summarize_with_model=False)
    follow = second.ask("and in 2023?", thread_id="conv-1")
    assert follow.status == "answered" and "'2023'" in (follow.sql or "")
    prompt = second_model.calls[0]["messages"][1]
    # The history shows the earlier question and the SQL that ran for it (as rewritten by the validator).
    history = prompt.split("Earlier in this conversation", 1)[1]
    assert "Top 5 products by revenue in 2024" in history and "'2024'" in history
    assert [t.question for t in second.history("conv-1")] == ["Top 5 products by revenue in 2024", "and in 2023?"]
    # Another thread starts empty: memory is per thread.
    assert second.history("conv-2") == []


def test_follow_up_with_sqlite_checkpointer(make_agent: MakeAgent, tmp_path: Path) -> None:
    run_follow_up(make_agent, f"sqlite:///{tmp_path / 'memory.sqlite'}")


@pytest.mark.postgres
def test_follow_up_with_postgres_checkpointer(make_agent: MakeAgent, pg_scratch_url: str) -> None:
    run_follow_up(make_agent, pg_scratch_url)


def test_default_memory_is_a_sqlite_file_in_the_data_dir(make_agent: MakeAgent, tmp_path: Path) -> None:
    agent = make_agent(conversation_model(), checkpointer_url=None, data_dir=tmp_path, summarize_with_model=False)
    agent.ask("Top 5 products by revenue in 2024", thread_id="t")
    assert (tmp_path / "memory.sqlite").stat().st_size > 0


def test_failed_turn_is_not_remembered(make_agent: MakeAgent) -> None:
    model = FakeChatModel(
        rules=[
            FakeRule("SELECT nope FROM sales", role="sql", when="broken"),
            FakeRule("SELECT COUNT(*) FROM sales", role="sql"),
        ]
    )
    agent = make_agent(model, max_repairs=0, summarize_with_model=False)
    agent.ask("How many sales are there?", thread_id="t")
    with pytest.raises(SQLValidationError):
        agent.ask("a broken question about sales", thread_id="t")
    assert [t.question for t in agent.history("t")] == ["How many sales are there?"]
    # The thread is still usable, and the previous turn's SQL does not leak into the next one.
    again = agent.ask("How many sales are there?", thread_id="t")
    assert again.status == "answered" and again.attempts == 1


def test_long_conversations_are_condensed(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) FROM stores", role="sql")])
    agent = make_agent(model, summarize_with_model=False)
    for i in range(KEPT_TURNS + 4):
        agent.ask(f"How many stores are there, take {i}?", thread_id="long")
    assert len(agent.history("long")) == KEPT_TURNS
    last_prompt = model.calls[-1]["messages"][1]
    assert "take 0" in last_prompt  # condensed into the running summary
    assert last_prompt.count("SQL:") <= 3  # only the last few turns verbatim: the prompt stays bounded


def test_unavailable_postgres_checkpointer_is_typed(make_agent: MakeAgent) -> None:
    with pytest.raises(CheckpointerError):
        make_agent(FakeChatModel(), checkpointer_url="postgresql://postgres@127.0.0.1:9/nowhere")


def test_unwritable_sqlite_checkpointer_is_typed(make_agent: MakeAgent, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(CheckpointerError):
        make_agent(FakeChatModel(), checkpointer_url=f"sqlite:///{blocker}/memory.sqlite")
