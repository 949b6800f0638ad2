"""execute_sql: run the validated statement on the confined connection."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime

from nl2sql_agent.context import RunContext
from nl2sql_agent.errors import QueryExecutionError
from nl2sql_agent.nodes.draft import retry_or_give_up
from nl2sql_agent.state import AgentState


def execute_sql(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Rows on success; the database's own error message (for the repair loop) on a rejected statement.

    Timeouts and an unreachable database raise: another draft would not fix them.
    """
    ctx = runtime.context
    sql = state["sql"] or ""
    try:
        result = ctx.executor.run(sql, max_rows=ctx.policy.max_rows, timeout_s=ctx.statement_timeout_s)
    except QueryExecutionError as exc:
        issue = {
            "attempt": state.get("attempts", 0),
            "stage": "execute",
            "code": str(exc.code),
            "message": str(exc.details.get("db_message") or exc.message),
            "sql": sql,
        }
        return {"issues": [issue], "columns": [], "rows": [], "executed": False}
    return {
        "columns": list(result.columns),
        "rows": [list(row) for row in result.rows],
        "truncated": result.truncated or (state.get("capped", False) and len(result.rows) >= ctx.policy.max_rows),
        "db_ms": state.get("db_ms", 0.0) + result.elapsed_ms,
        "executed": True,
    }


def route_execute(
    state: AgentState, runtime: Runtime[RunContext]
) -> Literal["summarize_answer", "draft_sql", "give_up"]:
    """Rows go to the answer; a rejected statement goes back to the model while repairs remain."""
    return "summarize_answer" if state.get("executed") else retry_or_give_up(state, runtime)
