"""``build_graph``: the agent's LangGraph state machine.

detect_intent -> retrieve_schema -> draft_sql -> check_sql -> execute_sql -> summarize_answer, with refusals
(``refuse``) and a bounded repair loop back to ``draft_sql`` that ends in ``give_up``. The first node starts
the turn and the answering nodes remember it. Persistence and retries are compile/add_node options, not nodes.
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from nl2sql_agent.context import RunContext
from nl2sql_agent.models.calls import is_transient
from nl2sql_agent.nodes import (
    check_sql,
    detect_intent,
    draft_sql,
    execute_sql,
    give_up,
    refuse,
    retrieve_schema,
    summarize_answer,
)
from nl2sql_agent.state import AgentState, InputState, OutputState


def model_retry_policy(*, attempts: int = 3, initial_interval_s: float = 0.5) -> RetryPolicy:
    """Exponential backoff with jitter, for model timeouts and outages only."""
    return RetryPolicy(
        max_attempts=attempts,
        initial_interval=initial_interval_s,
        backoff_factor=2.0,
        max_interval=30.0,
        jitter=True,
        retry_on=is_transient,
    )


def build_graph(
    *,
    checkpointer: BaseCheckpointSaver[str] | None = None,
    retry_policy: RetryPolicy | None = None,
) -> CompiledStateGraph[AgentState, RunContext, InputState, OutputState]:
    """Compile the agent graph. Models, database and policy come per run through ``context=RunContext(...)``.

    Args:
        checkpointer: conversation memory (see :func:`nl2sql_agent.memory.make_checkpointer`); runs on the
            same ``thread_id`` continue one conversation. ``None`` keeps nothing between runs.
        retry_policy: for the nodes that call a model; defaults to :func:`model_retry_policy`.

    Example:
        >>> graph = build_graph()
        >>> sorted(graph.get_graph().nodes)[:3]
        ['__end__', '__start__', 'check_sql']
    """
    retry = retry_policy or model_retry_policy()
    builder = StateGraph(AgentState, context_schema=RunContext, input_schema=InputState, output_schema=OutputState)
    builder.add_node(detect_intent, retry_policy=retry)
    builder.add_node(retrieve_schema)
    builder.add_node(draft_sql, retry_policy=retry)
    builder.add_node(check_sql)
    builder.add_node(execute_sql)
    builder.add_node(summarize_answer, retry_policy=retry)
    builder.add_node(refuse)
    builder.add_node(give_up)

    # detect_intent, draft_sql, check_sql and execute_sql route themselves (``Command`` with ``goto``;
    # their return types name where they may go, which is what draws the dashed edges).
    builder.add_edge(START, "detect_intent")
    builder.add_edge("retrieve_schema", "draft_sql")
    builder.add_edge("summarize_answer", END)
    builder.add_edge("refuse", END)
    # A failed turn is not remembered: a follow-up should build on the last answer that worked.
    builder.add_edge("give_up", END)
    return builder.compile(checkpointer=checkpointer, name="nl2sql_agent")
