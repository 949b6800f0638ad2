"""Turn bookkeeping: a fresh turn's keys, a finished turn remembered, and the terminal outcomes.

Resetting and remembering are helpers of the first and last nodes rather than nodes of their own:
each graph step costs about 0.4 ms of framework time, a fifth of the agent's own overhead budget.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from nl2sql_agent import prompts
from nl2sql_agent.context import RunContext
from nl2sql_agent.errors import ErrorCode
from nl2sql_agent.questions import clean_question
from nl2sql_agent.state import AgentState, TurnRecord
from nl2sql_agent.unanswerable import filtered_values, missing_concepts
from nl2sql_agent.values import stored_names, unheld_names

KEPT_TURNS = 6
"""Turns kept verbatim in memory; older ones are condensed into ``summary``."""
SUMMARY_CHARS = 800


def fresh_turn(state: AgentState) -> dict[str, Any]:
    """The per-turn keys cleared of what the previous turn of this thread left, so nothing stale leaks in."""
    return {
        "question": clean_question(state["question"], max_chars=10**9),
        "evidence": state.get("evidence"),
        "intent": None,
        "refusal": None,
        "tables": [],
        "schema_prompt": "",
        "draft": None,
        "attempts": 0,
        "issues": None,
        "sql": None,
        "columns": [],
        "rows": [],
        "truncated": False,
        "executed": False,
        "capped": False,
        "db_ms": 0.0,
        "status": "error",
        "answer": "",
        "error": None,
    }


def refuse(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """End the turn with the polite refusal chosen earlier; no SQL runs."""
    answer = state.get("refusal") or "Sorry, I can't help with that."
    return {"status": "refused", "answer": answer, "sql": None, **remembered(state, answer, sql=None, status="refused")}


def give_up(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """End the turn after the repair loop ran out: the last issue becomes the run's error, unless the drafts
    kept asking for something the database does not hold, or the question names something it does not hold
    that no draft could use, which is said as a refusal."""
    ctx = runtime.context
    missing = _missing(state, ctx)
    unheld = [] if missing else unheld_names(state["question"], [i["sql"] for i in state.get("issues") or []], ctx)
    if missing or unheld:
        if missing:
            reason = f"it holds no data on {', '.join(missing)}."
        else:
            reason = "it holds no " + " or ".join(f'"{name}"' for name in unheld) + "."
        answer = prompts.REFUSAL_UNANSWERABLE.format(reason=reason)
        return {
            "status": "refused",
            "intent": "unanswerable",
            "answer": answer,
            "sql": None,
            **remembered(state, answer, sql=None, status="refused"),
        }
    issue = (state.get("issues") or [None])[-1]
    if issue is None:
        error = {"code": str(ErrorCode.MODEL_OUTPUT), "message": "no SQL could be produced", "details": {}}
    else:
        error = {
            "code": issue["code"],
            "message": f"no working query after {state.get('attempts', 0)} attempts: {issue['message']}",
            "details": {"sql": issue["sql"], "stage": issue["stage"], "attempts": state.get("attempts", 0)},
        }
    return {"status": "error", "answer": error["message"], "error": error}


def _missing(state: AgentState, ctx: RunContext) -> dict[str, None]:
    """What the failed drafts kept asking of the schema that it lacks (see :mod:`nl2sql_agent.unanswerable`)."""
    question = state["question"]
    hint = state.get("evidence") or ""
    missing: dict[str, None] = {}
    for failed in state.get("issues") or []:
        sql = failed["sql"]
        found = missing_concepts(
            sql, question, catalog=ctx.catalog, vocabulary=ctx.vocabulary, dialect=ctx.dialect, hint=hint
        )
        missing.update(dict.fromkeys(found))
        values = filtered_values(sql, question, catalog=ctx.catalog, vocabulary=ctx.vocabulary, dialect=ctx.dialect)
        for column, value in values.items():
            # Only when the data holds the value nowhere: else the model merely guessed the column's name.
            if not stored_names([value], question, ctx):
                missing[f"{column} ({value})"] = None
    return missing


def remembered(state: AgentState, answer: str, *, sql: str | None, status: str) -> dict[str, Any]:
    """Memory with the finished turn appended, the oldest turns condensed into a running summary."""
    turns: list[TurnRecord] = [
        *state.get("turns", []),
        {"question": state["question"], "answer": answer, "sql": sql, "status": status},
    ]
    summary = state.get("summary", "")
    while len(turns) > KEPT_TURNS:
        oldest = turns.pop(0)
        summary = f"{summary}\n- asked: {oldest['question']}".strip()[-SUMMARY_CHARS:]
    return {"turns": turns, "summary": summary}
