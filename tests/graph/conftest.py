"""Fixtures for driving the whole graph with the scripted fake model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nl2sql_agent import Agent, Settings
from nl2sql_agent.models.fake import FakeChatModel

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
