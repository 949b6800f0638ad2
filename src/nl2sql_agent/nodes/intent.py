"""detect_intent: refuse off-topic, write and injection requests before any SQL is drafted."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Command

from nl2sql_agent import prompts
from nl2sql_agent.context import RunContext
from nl2sql_agent.intent import (
    change_without_time,
    classify,
    hidden_names_asked,
    judged_qualities,
    unknown_identifiers,
    unspecified_thing,
)
from nl2sql_agent.lexicon import given_names
from nl2sql_agent.models.calls import invoke_model
from nl2sql_agent.nodes.history import render_history
from nl2sql_agent.nodes.routing import then
from nl2sql_agent.nodes.turn import fresh_turn
from nl2sql_agent.state import AgentState
from nl2sql_agent.values import missing_keys, stored_names


def _off_topic_refusal(ctx: RunContext) -> str:
    names = sorted(t.name for t in ctx.catalog.tables.values())
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    example = names[0] if names else "rows"
    return prompts.REFUSAL_OFF_TOPIC.format(tables=shown, example=example)


def detect_intent(state: AgentState, runtime: Runtime[RunContext]) -> Command[Literal["retrieve_schema", "refuse"]]:
    """Start the turn and classify the question; only an unsure cheap check costs a (small) model call."""
    update = {**fresh_turn(state), **_classify_turn(state, runtime.context)}
    return then(state, update, route_intent, runtime.context)


def _classify_turn(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    question = state["question"]
    hidden = hidden_names_asked(question, ctx.policy.hidden_columns)
    if hidden:
        return {"intent": "not_permitted", "refusal": prompts.REFUSAL_NOT_PERMITTED.format(names=", ".join(hidden))}
    unknown = unknown_identifiers(question, ctx.catalog)
    if unknown:
        return _unanswerable(f"it has no table or column named {', '.join(unknown)}.")
    keys = missing_keys(question, ctx)
    if keys:
        return _unanswerable(f"it has no row with {' or '.join(keys)}.")
    verdict = classify(question, ctx.vocabulary, has_history=bool(state.get("turns")), this_year=ctx.today.year)
    # After classify, so that a write request or an injection is refused as what it is.
    over_time = change_without_time(question, ctx.catalog) if verdict in ("data", "unsure") else None
    if over_time:
        return _unanswerable(f'"{over_time}" needs values from more than one time, and no column records a date.')
    if verdict == "unsure":
        verdict = _place(state, ctx)
    match verdict:
        case "data":
            return {"intent": "data"}
        case "write_request":
            return {"intent": "write_request", "refusal": prompts.REFUSAL_WRITE}
        case "injection":
            return {"intent": "injection", "refusal": prompts.REFUSAL_INJECTION}
        case "judgement":
            judged = " or ".join(f'"{word}"' for word in judged_qualities(question, ctx.vocabulary))
            return _unanswerable(f"{judged} is a judgement, and no column records it.")
        case "unspecified":
            thing = unspecified_thing(question) or "one"
            return {"intent": "unanswerable", "refusal": prompts.REFUSAL_UNSPECIFIED.format(thing=thing)}
        case _:
            return {"intent": "off_topic", "refusal": _off_topic_refusal(ctx)}


def _unanswerable(reason: str) -> dict[str, Any]:
    return {"intent": "unanswerable", "refusal": prompts.REFUSAL_UNANSWERABLE.format(reason=reason)}


def _place(state: AgentState, ctx: RunContext) -> Literal["data", "off_topic"]:
    """A question that names no table or column: about the data if it comes with a domain hint or names a
    value the database holds ("How strong is the Hulk?"); otherwise the model decides when it may, or it
    is refused.

    The model is not asked by default: the local 1.5B model called 29 of the evaluation sets' 31 such
    questions "data", 21 of which had to be refused ("Which nation is known as 'The Land of Smiles'?").
    """
    if state.get("evidence") or stored_names(given_names(state["question"]), state["question"], ctx):
        return "data"
    return _ask_model(state, ctx) if ctx.intent_model_check else "off_topic"


def _ask_model(state: AgentState, ctx: RunContext) -> Literal["data", "off_topic"]:
    tables = ", ".join(sorted(t.name for t in ctx.catalog.tables.values())[:40])
    history = render_history(state, limit=2)
    context = prompts.SQL_CONTEXT.format(history=history) if history else ""
    reply = invoke_model(
        ctx.small_model,
        [
            SystemMessage(prompts.INTENT_SYSTEM.format(tables=tables)),
            HumanMessage(prompts.INTENT_USER.format(context=context, question=state["question"])),
        ],
        role="intent",
    )
    return "off_topic" if "other" in reply.strip().lower()[:20] else "data"


def route_intent(state: AgentState, ctx: RunContext) -> Literal["retrieve_schema", "refuse"]:
    """Data questions go on to retrieval; everything else is refused (or, when vague, asked back)."""
    return "retrieve_schema" if state.get("intent") == "data" else "refuse"
