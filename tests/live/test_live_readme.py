"""The README's sample questions, answered by the real local model, checked against gold SQL by execution."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nl2sql_agent import Agent, Settings
from nl2sql_agent.evals.compare import gold_is_ordered, results_match
from nl2sql_agent.evals.execution import run_query

# The questions the README shows (scripts/demo asks the first one).
README_QUESTIONS = {
    "How many customers do we have?": "SELECT COUNT(*) FROM customers",
    "What is the total refund amount for each return reason?": (
        "SELECT reason, SUM(refund_amount) FROM returns GROUP BY reason"
    ),
    "How many employees are there per job title?": "SELECT title, COUNT(*) FROM employees GROUP BY title",
}


@pytest.mark.live
@pytest.mark.parametrize("question", list(README_QUESTIONS))
def test_readme_question_is_answered_correctly(
    question: str, live_base_url: str, sample_db_path: Path, tmp_path: Path
) -> None:
    settings = Settings(
        db_url=f"sqlite:///{sample_db_path}",
        model="local",
        base_url=live_base_url,
        checkpointer_url="memory",
        today=dt.date(2026, 1, 15),
        data_dir=tmp_path,
    )
    with Agent.from_settings(settings) as agent:
        answer = agent.ask(question)
    assert answer.status == "answered", answer
    assert answer.sql is not None
    gold = run_query(sample_db_path, README_QUESTIONS[question])
    predicted = run_query(sample_db_path, answer.sql)
    assert results_match(gold, predicted, ordered=gold_is_ordered(README_QUESTIONS[question])), answer.sql
    assert answer.answer
