"""check_sql: the draft goes through the safety validator; problems become issues for the repair loop."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from nl2sql_agent import prompts
from nl2sql_agent.context import RunContext
from nl2sql_agent.errors import SQLValidationError, UnsafeSQLError
from nl2sql_agent.measures import stand_in
from nl2sql_agent.nodes.routing import retry_or_give_up, then
from nl2sql_agent.safety import ValidatedQuery, arithmetic, grouping, joins, ordering, ranges, validate_sql
from nl2sql_agent.safety.autofix import autofix
from nl2sql_agent.safety.joins import tidy_joins
from nl2sql_agent.sqltext import mentions, parse_or_none
from nl2sql_agent.state import AgentState

Checked = Command[Literal["execute_sql", "draft_sql", "refuse", "give_up"]]


def check_sql(state: AgentState, runtime: Runtime[RunContext]) -> Checked:
    """Validate against what this caller may see; the rewritten SQL (limits, filters) is what runs."""
    ctx = runtime.context
    return then(state, _check(state, ctx), route_check, ctx)


def _check(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    draft = state.get("draft") or ""
    try:
        query = validated(draft, state["question"], ctx)
    except SQLValidationError as exc:
        return _rejected(state, draft, exc.code, "; ".join(exc.issues))
    except UnsafeSQLError as exc:
        if exc.denied:
            # Another draft cannot make hidden data visible: say plainly what is not available.
            names = ", ".join(exc.denied)
            refusal = prompts.REFUSAL_NOT_PERMITTED.format(names=names)
            return {"sql": None, "intent": "not_permitted", "refusal": refusal}
        return _rejected(state, draft, exc.code, "not allowed: " + "; ".join(exc.reasons))
    if not query.tables:
        # A query that reads no table ("SELECT 'a joke'") is not an answer from the database.
        return {"sql": None, "intent": "off_topic", "refusal": prompts.REFUSAL_NO_DATA}
    other = stand_in(
        query.sql,
        state["question"],
        dialect=ctx.dialect,
        vocabulary=ctx.vocabulary,
        catalog=ctx.catalog,
        hint=state.get("evidence") or "",
    )
    if other is not None:
        # Another draft would reach for the same neighbour: say what is missing and what is there instead.
        reason = f'no column records "{other.asked}"; the closest is {other.column}.'
        return {"sql": None, "intent": "unanswerable", "refusal": prompts.REFUSAL_UNANSWERABLE.format(reason=reason)}
    # When the policy's cap is the query's limit, a full page of rows may mean more were left out.
    return {"sql": query.sql, "capped": query.limit >= ctx.policy.max_rows}


def validated(draft: str, question: str, ctx: RunContext) -> ValidatedQuery:
    """The validated draft, tidied first: its joins (:mod:`~nl2sql_agent.safety.joins`), its arithmetic
    (:mod:`~nl2sql_agent.safety.arithmetic`), its grouping (:mod:`~nl2sql_agent.safety.grouping`), the
    order of a breakdown's rows (:mod:`~nl2sql_agent.safety.ordering`) and its ranges
    (:mod:`~nl2sql_agent.safety.ranges`)."""
    tidied = _tidied(draft, question, ctx)
    if tidied is not None:
        try:
            return _fixed_or_raised(tidied, question, ctx)
        except (SQLValidationError, UnsafeSQLError):
            pass  # tidying must never cost a draft: the draft as written gets its own chance
    return _fixed_or_raised(draft, question, ctx)


_TIDY_CUES = joins.CUES + arithmetic.CUES + grouping.CUES + ordering.CUES + ranges.CUES
"""What a draft must mention for any tidy to find work (each module says what it acts on)."""


def _tidied(draft: str, question: str, ctx: RunContext) -> str | None:
    """The draft after every tidy, parsed once and written once; ``None`` if none changed it."""
    if not mentions(draft, _TIDY_CUES):
        return None  # a plain one-table read: nothing any tidy looks at, and no parse to pay for
    tree = parse_or_none(draft, ctx.dialect)
    if tree is None:
        return None  # the validator says what is wrong with it
    changed = joins.tidy(tree, catalog=ctx.db_catalog, question=question)
    changed |= arithmetic.tidy(tree, dialect=ctx.dialect, catalog=ctx.db_catalog, question=question)
    changed |= grouping.tidy(tree, question=question)
    changed |= ordering.tidy(tree)
    changed |= ranges.tidy(tree, dialect=ctx.dialect)
    return tree.sql(dialect=ctx.dialect) if changed else None


def _fixed_or_raised(draft: str, question: str, ctx: RunContext) -> ValidatedQuery:
    """The validated draft; a draft whose only faults have one fix (a swapped alias, a misspelt column, a
    missing join along the one key) is fixed, not sent back."""
    try:
        return validate_sql(draft, dialect=ctx.dialect, catalog=ctx.db_catalog, policy=ctx.policy)
    except SQLValidationError:
        fixed = autofix(draft, dialect=ctx.dialect, catalog=ctx.db_catalog, policy=ctx.policy)
        if fixed is None:
            raise
        # A column moved to its right table can leave the join it was read through unread.
        fixed = tidy_joins(fixed, dialect=ctx.dialect, catalog=ctx.db_catalog, question=question) or fixed
        try:
            return validate_sql(fixed, dialect=ctx.dialect, catalog=ctx.db_catalog, policy=ctx.policy)
        except SQLValidationError:
            pass
        raise  # the draft's own issues, which the model is told about


def _rejected(state: AgentState, draft: str, code: str, message: str) -> dict[str, Any]:
    issue = {
        "attempt": state.get("attempts", 0),
        "stage": "validate",
        "code": str(code),
        "message": message,
        "sql": draft,
    }
    return {"sql": None, "issues": [issue]}


def route_check(state: AgentState, ctx: RunContext) -> Literal["execute_sql", "draft_sql", "refuse", "give_up"]:
    """Valid SQL runs; SQL that needs hidden data, or stands in for what the data lacks, is refused; an invalid
    draft goes back while repairs remain."""
    if state.get("sql"):
        return "execute_sql"
    if state.get("intent") in ("not_permitted", "off_topic", "unanswerable"):
        return "refuse"
    return retry_or_give_up(state, ctx)
