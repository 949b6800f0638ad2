"""execute_sql: run the validated statement on the confined connection, after an optional cost gate."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from nl2sql_agent.context import RunContext
from nl2sql_agent.db.executor import ReadOnlyExecutor
from nl2sql_agent.errors import QueryExecutionError, QueryTooExpensiveError
from nl2sql_agent.nodes.routing import retry_or_give_up, then
from nl2sql_agent.state import AgentState

Executed = Command[Literal["summarize_answer", "draft_sql", "give_up"]]


def execute_sql(state: AgentState, runtime: Runtime[RunContext]) -> Executed:
    """Rows on success; the database's own error message (for the repair loop) on a rejected statement.

    Timeouts, an unreachable database and a query over the cost limit raise: another draft of the same
    question would not fix them.
    """
    ctx = runtime.context
    return then(state, _execute(state, ctx), route_execute, ctx)


def _execute(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    sql = state["sql"] or ""
    try:
        check_query_cost(ctx.executor, sql, max_cost=ctx.max_query_cost)
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


def check_query_cost(executor: ReadOnlyExecutor, sql: str, *, max_cost: float | None) -> float | None:
    """Refuse ``sql`` when the planner's estimate (``EXPLAIN``, never executed) is above ``max_cost``.

    Only PostgreSQL gives an estimate; elsewhere, or with no limit, nothing is planned and ``None`` returned.

    Returns:
        The planner's total cost estimate, when one was taken.

    Raises:
        QueryTooExpensiveError: The estimate is over ``max_cost`` (``details``: ``estimated_cost``,
            ``max_query_cost``, ``sql``).
        QueryExecutionError: The statement cannot be planned (the database's words are in the details;
            the repair loop treats it like a failed run).
    """
    if max_cost is None or executor.dialect != "postgres":
        return None
    cost = executor.explain_cost(sql)
    if cost is not None and cost > max_cost:
        raise QueryTooExpensiveError(
            f"the planner estimates this query at cost {cost:,.0f}, over the limit of {max_cost:,.0f}; "
            "narrow the question (a shorter period, fewer groups, a filter on one region or product)",
            details={"estimated_cost": cost, "max_query_cost": max_cost, "sql": sql},
        )
    return cost


def route_execute(state: AgentState, ctx: RunContext) -> Literal["summarize_answer", "draft_sql", "give_up"]:
    """Rows go to the answer; a rejected statement goes back to the model while repairs remain."""
    return "summarize_answer" if state.get("executed") else retry_or_give_up(state, ctx)
