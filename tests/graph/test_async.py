"""``aask`` and ``astream``: the graph runs on the agent's bounded pool of reused threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from nl2sql_agent import Agent, Answer, ModelTimeoutError, StepEvent
from nl2sql_agent.models.fake import FakeChatModel, FakeRule

MakeAgent = Callable[..., Agent]


class ThreadNames(BaseCallbackHandler):
    """The threads the model was called on (kept alive, so two runs on one thread are told apart)."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.threads.append(threading.current_thread())


def test_aask_runs_on_the_pool_and_reuses_its_threads(make_agent: MakeAgent) -> None:
    seen = ThreadNames()
    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) AS n FROM stores", role="sql")], callbacks=[seen])
    agent = make_agent(model, summarize_with_model=False, max_concurrent_runs=2)

    async def main() -> list[Answer]:
        return await asyncio.gather(*(agent.aask("How many stores are there?") for _ in range(8)))

    answers = asyncio.run(main())
    assert [a.status for a in answers] == ["answered"] * 8
    assert len({a.rows for a in answers}) == 1
    # Eight runs, at most two threads: the pool bounds them and reuses its workers.
    assert len(seen.threads) == 8 and all(t.name.startswith("nl2sql-run") for t in seen.threads)
    assert len(set(seen.threads)) <= 2


def test_astream_yields_steps_in_order_then_the_answer(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) AS n FROM regions", role="sql")])
    agent = make_agent(model, summarize_with_model=False)

    async def main() -> list[StepEvent | Answer]:
        return [item async for item in agent.astream("How many regions are there?")]

    items = asyncio.run(main())
    steps = [item.node for item in items if isinstance(item, StepEvent)]
    assert steps == ["detect_intent", "retrieve_schema", "draft_sql", "check_sql", "execute_sql", "summarize_answer"]
    assert isinstance(items[-1], Answer) and items[-1].status == "answered"


def test_async_runs_raise_the_typed_error(make_agent: MakeAgent) -> None:
    model = FakeChatModel(rules=[FakeRule(TimeoutError("read timed out"), role="sql")])
    agent = make_agent(model, model_retries=0)

    async def drain() -> None:
        async for _ in agent.astream("How many customers do we have?"):
            pass

    with pytest.raises(ModelTimeoutError):
        asyncio.run(agent.aask("How many customers do we have?"))
    with pytest.raises(ModelTimeoutError):
        asyncio.run(drain())
