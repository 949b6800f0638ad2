"""The graph's nodes (plain functions) and routers."""

from nl2sql_agent.nodes.answer import summarize_answer
from nl2sql_agent.nodes.check import check_sql, route_check
from nl2sql_agent.nodes.draft import draft_sql, route_draft
from nl2sql_agent.nodes.execute import execute_sql, route_execute
from nl2sql_agent.nodes.intent import detect_intent, route_intent
from nl2sql_agent.nodes.schema import retrieve_schema
from nl2sql_agent.nodes.turn import give_up, refuse

__all__ = [
    "check_sql",
    "detect_intent",
    "draft_sql",
    "execute_sql",
    "give_up",
    "refuse",
    "retrieve_schema",
    "route_check",
    "route_draft",
    "route_execute",
    "route_intent",
    "summarize_answer",
]
