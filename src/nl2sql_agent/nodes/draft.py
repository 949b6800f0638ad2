"""draft_sql: the model writes SQL; on a retry it also sees its previous query and the precise error."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Command

from nl2sql_agent import prompts
from nl2sql_agent.context import RunContext
from nl2sql_agent.errors import ErrorCode
from nl2sql_agent.models.calls import invoke_model
from nl2sql_agent.nodes.history import render_history
from nl2sql_agent.nodes.routing import retry_or_give_up, then
from nl2sql_agent.sqltext import extract_sql
from nl2sql_agent.state import AgentState


def sql_messages(state: AgentState, ctx: RunContext) -> list[BaseMessage]:
    """The prompt for a draft, including the repair turn when the last attempt failed."""
    today = ctx.today.isoformat()
    system = prompts.SQL_SYSTEM.format(
        dialect_name=prompts.DIALECT_NAMES.get(ctx.dialect, ctx.dialect),
        today=today,
        dialect_hints=prompts.DIALECT_HINTS.get(ctx.dialect, "").format(today=today),
    )
    history = render_history(state)
    evidence = state.get("evidence")
    user = prompts.SQL_USER.format(
        schema=state.get("schema_prompt", ""),
        context=prompts.SQL_CONTEXT.format(history=history) if history else "",
        evidence=prompts.SQL_EVIDENCE.format(evidence=evidence) if evidence else "",
        question=state["question"],
    )
    messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user)]
    issues = state.get("issues") or []
    if issues:
        last = issues[-1]
        messages.append(AIMessage(f"```sql\n{last['sql'] or ''}\n```"))
        messages.append(HumanMessage(prompts.SQL_REPAIR.format(error=last["message"])))
    return messages


Drafted = Command[Literal["check_sql", "draft_sql", "refuse", "give_up"]]


def draft_sql(state: AgentState, runtime: Runtime[RunContext]) -> Drafted:
    """Ask the SQL model for one statement."""
    ctx = runtime.context
    return then(state, _draft(state, ctx), route_draft, ctx)


def _draft(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    attempt = state.get("attempts", 0) + 1
    reply = invoke_model(ctx.sql_model, sql_messages(state, ctx), role="sql")
    sql, cannot = extract_sql(reply)
    if cannot is not None:
        refusal = prompts.REFUSAL_UNANSWERABLE.format(reason=cannot)
        return {"attempts": attempt, "draft": None, "intent": "unanswerable", "refusal": refusal}
    if sql is None:
        issue = {
            "attempt": attempt,
            "stage": "draft",
            "code": str(ErrorCode.MODEL_OUTPUT),
            "message": "the reply held no SQL statement; reply with one SELECT in a ```sql block",
            "sql": None,
        }
        return {"attempts": attempt, "draft": None, "issues": [issue]}
    return {"attempts": attempt, "draft": sql}


def route_draft(state: AgentState, ctx: RunContext) -> Literal["check_sql", "draft_sql", "refuse", "give_up"]:
    """A usable draft is checked; no SQL is retried while attempts remain; CANNOT ANSWER is refused."""
    if state.get("intent") == "unanswerable":
        return "refuse"
    if state.get("draft"):
        return "check_sql"
    return retry_or_give_up(state, ctx)
