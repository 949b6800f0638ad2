"""nl2sql_agent: ask a relational database questions in plain language.

A LangGraph agent that refuses off-topic questions, picks the relevant tables, drafts SQL with a model,
validates it on the syntax tree, runs it on a read-only connection (repairing failed drafts), and answers
in words.
"""

import importlib.metadata as _metadata

from nl2sql_agent.agent import Agent, ask
from nl2sql_agent.answer import Answer, StepEvent, Turn, Usage
from nl2sql_agent.context import RunContext
from nl2sql_agent.errors import (
    BudgetExceededError,
    CheckpointerError,
    ConfigurationError,
    DatabaseError,
    DatabaseUnavailableError,
    ErrorCode,
    InvalidQuestionError,
    ModelError,
    ModelOutputError,
    ModelTimeoutError,
    ModelUnavailableError,
    Nl2SqlError,
    PermissionDeniedError,
    QueryExecutionError,
    QueryTimeoutError,
    QueryTooExpensiveError,
    RateLimitedError,
    SQLValidationError,
    UnsafeSQLError,
)
from nl2sql_agent.graph import build_graph
from nl2sql_agent.memory import make_checkpointer
from nl2sql_agent.models.factory import make_chat_model
from nl2sql_agent.safety import SqlPolicy, ValidatedQuery, validate_sql
from nl2sql_agent.settings import Settings

try:
    __version__ = _metadata.version("nl2sql-agent")
except _metadata.PackageNotFoundError:  # pragma: no cover  # running from a source tree without installing
    from nl2sql_agent._version import __version__

__all__ = [
    "Agent",
    "Answer",
    "BudgetExceededError",
    "CheckpointerError",
    "ConfigurationError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "ErrorCode",
    "InvalidQuestionError",
    "ModelError",
    "ModelOutputError",
    "ModelTimeoutError",
    "ModelUnavailableError",
    "Nl2SqlError",
    "PermissionDeniedError",
    "QueryExecutionError",
    "QueryTimeoutError",
    "QueryTooExpensiveError",
    "RateLimitedError",
    "RunContext",
    "SQLValidationError",
    "Settings",
    "SqlPolicy",
    "StepEvent",
    "Turn",
    "UnsafeSQLError",
    "Usage",
    "ValidatedQuery",
    "__version__",
    "ask",
    "build_graph",
    "make_checkpointer",
    "make_chat_model",
    "validate_sql",
]
