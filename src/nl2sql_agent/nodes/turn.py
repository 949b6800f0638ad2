"""Turn bookkeeping: reset the per-turn keys, remember a finished turn, and the terminal outcomes."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from nl2sql_agent.context import RunContext
from nl2sql_agent.errors import ErrorCode
from nl2sql_agent.questions import clean_question
from nl2sql_agent.state import AgentState, TurnRecord

KEPT_TURNS = 6
"""Turns kept verbatim in memory; older ones are condensed into ``summary``."""
SUMMARY_CHARS = 800


def begin_turn(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Clear what the previous turn of this thread left behind, so nothing stale leaks into this one."""
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
    return {"status": "refused", "answer": state.get("refusal") or "Sorry, I can't help with that.", "sql": None}


def give_up(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """End the turn after the repair loop ran out: the last issue becomes the run's error."""
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


def remember_turn(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Append the finished turn to memory, condensing the oldest turns into a running summary."""
    turns: list[TurnRecord] = [
        *state.get("turns", []),
        {
            "question": state["question"],
            "answer": state.get("answer", ""),
            "sql": state.get("sql"),
            "status": state.get("status", "answered"),
        },
    ]
    summary = state.get("summary", "")
    while len(turns) > KEPT_TURNS:
        oldest = turns.pop(0)
        summary = f"{summary}\n- asked: {oldest['question']}".strip()[-SUMMARY_CHARS:]
    return {"turns": turns, "summary": summary}
