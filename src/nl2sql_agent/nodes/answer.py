"""summarize_answer: a short answer in words, grounded in the rows."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from nl2sql_agent import prompts
from nl2sql_agent.context import RunContext
from nl2sql_agent.grounding import is_grounded, is_plain, render_rows, template_answer
from nl2sql_agent.lexicon import stems, stems_of
from nl2sql_agent.models.calls import invoke_model
from nl2sql_agent.nodes.turn import remembered
from nl2sql_agent.state import AgentState


def summarize_answer(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The model words the answer; if it states a number the rows do not hold, the template answer is used instead.

    Empty results and runs configured without a summary model cost no model call.
    """
    ctx = runtime.context
    columns, rows, truncated = state.get("columns", []), state.get("rows", []), state.get("truncated", False)
    fallback = template_answer(columns, rows, truncated=truncated)
    if not rows or not ctx.summarize_with_model:
        return _answered(state, fallback)
    reply = invoke_model(
        ctx.small_model,
        [
            SystemMessage(prompts.ANSWER_SYSTEM),
            HumanMessage(
                prompts.ANSWER_USER.format(
                    question=state["question"],
                    row_count=len(rows),
                    truncated=", more not shown" if truncated else "",
                    table=render_rows(columns, rows),
                )
            ),
        ],
        role="answer",
    ).strip()
    # The reply must state only numbers the rows hold, and must not echo its instructions or carry links
    # (sample rows are untrusted: a poisoned value may ask the model to emit a tracking image).
    # Units of measure likewise: "4.15 pounds" stands only if the question, the query or the schema says pounds.
    known = (ctx.vocabulary.all, stems(state.get("sql") or ""), stems_of(columns))
    grounded = bool(reply) and is_grounded(reply, state["question"], rows, known_words=known)
    plain = is_plain(reply, prompt_lines=prompts.ANSWER_SYSTEM.splitlines())
    return _answered(state, reply if grounded and plain else fallback)


def _answered(state: AgentState, answer: str) -> dict[str, Any]:
    return {
        "status": "answered",
        "answer": answer,
        **remembered(state, answer, sql=state.get("sql"), status="answered"),
    }
