"""execute_sql: run the validated statement on the confined connection, after an optional cost gate."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from nl2sql_agent import prompts
from nl2sql_agent.context import RunContext
from nl2sql_agent.db.executor import ReadOnlyExecutor
from nl2sql_agent.errors import ErrorCode, Nl2SqlError, QueryExecutionError, QueryTooExpensiveError
from nl2sql_agent.nodes.routing import retry_or_give_up, then
from nl2sql_agent.safety import validate_sql
from nl2sql_agent.state import AgentState
from nl2sql_agent.values import absent_values, empty_columns, look_up_values

Executed = Command[Literal["summarize_answer", "draft_sql", "give_up", "refuse"]]


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
        return _failed(state, sql, str(exc.code), str(exc.details.get("db_message") or exc.message))
    update: dict[str, Any] = {}
    if _found_nothing(result.rows) and state.get("attempts", 0) <= ctx.max_repairs:
        # No rows may mean a misspelt or misplaced value: look the filters' values up while a repair remains.
        lookup = look_up_values(sql, ctx)
        fixed = _revalidated(lookup.fixed_sql, ctx) if lookup.fixed_sql else None
        if fixed is not None:
            try:
                result = ctx.executor.run(fixed, max_rows=ctx.policy.max_rows, timeout_s=ctx.statement_timeout_s)
                update["sql"] = fixed
            except QueryExecutionError:
                pass  # keep the first, empty, result
        elif lookup.hints:
            return _failed(state, sql, str(ErrorCode.QUERY_FAILED), "it returned no rows: " + "; ".join(lookup.hints))
    if _found_nothing(result.rows) and "sql" not in update:
        absent = absent_values(sql, state["question"], ctx)
        empty = [] if absent else empty_columns(sql, ctx)
        if absent or empty:
            if absent:
                reason = "it holds no " + " or ".join(f'"{value}"' for value in absent) + "."
            else:
                reason = f"no row records a value in {' or '.join(empty)}, so no filter on it can match."
            return {"intent": "unanswerable", "refusal": prompts.REFUSAL_UNANSWERABLE.format(reason=reason)}
    return {
        **update,
        "columns": list(result.columns),
        "rows": [list(row) for row in result.rows],
        "truncated": result.truncated or (state.get("capped", False) and len(result.rows) >= ctx.policy.max_rows),
        "db_ms": state.get("db_ms", 0.0) + result.elapsed_ms,
        "executed": True,
    }


def _found_nothing(rows: tuple[tuple[Any, ...], ...]) -> bool:
    """No rows, or the one row an aggregate gives over no rows (``COUNT(*)`` 0, ``SUM`` NULL)."""
    return not rows or (len(rows) == 1 and all(value is None or value == 0 for value in rows[0]))


def _failed(state: AgentState, sql: str, code: str, message: str) -> dict[str, Any]:
    issue = {"attempt": state.get("attempts", 0), "stage": "execute", "code": code, "message": message, "sql": sql}
    return {"issues": [issue], "columns": [], "rows": [], "executed": False}


def _revalidated(sql: str, ctx: RunContext) -> str | None:
    try:
        return validate_sql(sql, dialect=ctx.dialect, catalog=ctx.db_catalog, policy=ctx.policy).sql
    except Nl2SqlError:
        return None


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


def route_execute(state: AgentState, ctx: RunContext) -> Literal["summarize_answer", "draft_sql", "give_up", "refuse"]:
    """Rows go to the answer; a rejected statement goes back to the model while repairs remain; a query
    that found nothing because the question's own value is not in the data ends in a refusal."""
    if state.get("intent") == "unanswerable":
        return "refuse"
    return "summarize_answer" if state.get("executed") else retry_or_give_up(state, ctx)
