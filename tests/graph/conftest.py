"""Fixtures for driving the whole graph with the scripted fake model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nl2sql_agent import Agent, Settings
from nl2sql_agent.models.fake import FakeChatModel, FakeRule

MakeAgent = Callable[..., Agent]


@pytest.fixture
def make_agent(sample_db_url: str) -> Iterator[MakeAgent]:
    """Build agents on the sample database; closed after the test. No retry waits, memory in-process by default."""
    agents: list[Agent] = []

    def factory(model: FakeChatModel, **overrides: Any) -> Agent:
        fields: dict[str, Any] = {"db_url": sample_db_url, "checkpointer_url": "memory", "retry_initial_s": 0.0}
        fields.update(overrides)
        agent = Agent.from_settings(Settings(**fields), model=model)
        agents.append(agent)
        return agent

    yield factory
    for agent in agents:
        agent.close()


@pytest.fixture
def refusal_after_one_draft(make_agent: MakeAgent) -> Callable[[str, str], str]:
    """``(draft, question) -> reply``: the refusal the agent gives ``question`` when the model drafts ``draft``,
    asserted to come after that one draft, with no SQL or rows shown and the turn remembered as refused."""

    def refuse(draft: str, question: str) -> str:
        model = FakeChatModel(rules=[FakeRule(draft, role="sql")])
        agent = make_agent(model, summarize_with_model=False)
        answer = agent.ask(question, thread_id="refused")
        assert answer.status == "refused" and answer.sql is None and answer.rows == ()
        assert [c["role"] for c in model.calls] == ["sql"]
        assert [t.status for t in agent.history("refused")] == ["refused"]
        return answer.answer

    return refuse
