"""retrieve_schema: the few tables the question needs, rendered for the model."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from sqlglot import exp

from nl2sql_agent.context import RunContext
from nl2sql_agent.retrieval import render_schema, select_tables
from nl2sql_agent.sqltext import parse_or_none
from nl2sql_agent.state import AgentState


def _tables_in(sql: str | None, dialect: str) -> list[str]:
    tree = parse_or_none(sql, dialect)
    if tree is None:
        return []
    return sorted({t.name.lower() for t in tree.find_all(exp.Table)})


def retrieve_schema(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The whole schema when it is small; otherwise tables by relevance, and a follow-up keeps the tables
    of the previous answer in view."""
    ctx = runtime.context
    if ctx.whole_schema is not None:
        return {"tables": list(ctx.catalog.tables), "schema_prompt": ctx.whole_schema}
    previous = next((t for t in reversed(state.get("turns", [])) if t["status"] == "answered"), None)
    keep = _tables_in(previous["sql"], ctx.dialect) if previous else []
    question = state["question"] + " " + (state.get("evidence") or "")
    tables = select_tables(ctx.catalog, question, max_tables=ctx.max_tables, must_include=keep)
    return {"tables": tables, "schema_prompt": render_schema(ctx.catalog, tables)}
