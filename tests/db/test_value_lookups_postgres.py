"""Value lookups on PostgreSQL: the lookups' own SQL (lower, trim) passes the validator and runs there too."""

from __future__ import annotations

import pytest

from nl2sql_agent import Agent, Settings
from nl2sql_agent.models.fake import FakeChatModel, FakeRule

pytestmark = pytest.mark.postgres


def test_case_and_misplaced_values_are_looked_up_on_postgres(pg_sample_url: str) -> None:
    drafts = [
        "SELECT COUNT(*) FROM stores WHERE store_name = 'fargo'",
        "SELECT COUNT(*) FROM stores WHERE city = 'Fargo'",
    ]
    model = FakeChatModel(queues={"sql": drafts})
    settings = Settings(db_url=pg_sample_url, checkpointer_url="memory", summarize_with_model=False)
    with Agent.from_settings(settings, model=model) as agent:
        answer = agent.ask("How many stores are in Fargo?")
    assert answer.status == "answered" and answer.attempts == 2 and answer.rows[0][0] >= 1
    assert "that value is in stores.city" in model.calls[-1]["messages"][-1]

    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) FROM sales WHERE payment_method = 'cash'", role="sql")])
    with Agent.from_settings(settings, model=model) as agent:
        answer = agent.ask("How many sales were paid in cash?")
    assert answer.sql is not None and "'Cash'" in answer.sql and answer.rows[0][0] > 0
