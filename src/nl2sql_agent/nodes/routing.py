"""How a node names its successor: a ``Command`` carrying the update and the next node.

Routing inside the node, rather than through conditional edges, spares LangGraph a copy of every
state channel per routing decision (a conditional edge reads a fresh copy of the whole state).
The routing rules stay small pure functions of the state as it will be after the update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from langgraph.types import Command

from nl2sql_agent.context import RunContext
from nl2sql_agent.state import AgentState

Next = TypeVar("Next", bound=str)


def then(
    state: AgentState, update: dict[str, Any], route: Callable[[AgentState, RunContext], Next], ctx: RunContext
) -> Command[Next]:
    """``update`` applied, and the node ``route`` picks for the state it leads to."""
    after: AgentState = {**state, **update}  # type: ignore[typeddict-item]
    return Command(update=update, goto=route(after, ctx))


def retry_or_give_up(state: AgentState, ctx: RunContext) -> Literal["draft_sql", "give_up"]:
    """Another draft while repairs remain (the first draft is not a repair)."""
    return "draft_sql" if state.get("attempts", 0) <= ctx.max_repairs else "give_up"
