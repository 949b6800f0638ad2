"""Rendering conversation memory for prompts, bounded in size."""

from __future__ import annotations

from nl2sql_agent.state import AgentState


def render_history(state: AgentState, *, limit: int = 3) -> str:
    """The running summary plus the last ``limit`` answered turns (question and SQL)."""
    parts: list[str] = []
    if state.get("summary"):
        parts.append("Earlier questions:\n" + state["summary"])
    for turn in [t for t in state.get("turns", []) if t["status"] == "answered"][-limit:]:
        parts.append(f"Q: {turn['question']}\nSQL: {turn['sql'] or '-'}")
    return "\n".join(parts)
