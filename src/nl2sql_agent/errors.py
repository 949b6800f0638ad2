"""One exception root with stable codes.

Every failure the library expects raises a subclass of :class:`Nl2SqlError`. Each carries a stable
:class:`ErrorCode` (safe to match on in clients, logged, returned by the API and the CLI's ``--json``)
and a structured ``details`` payload. The tree::

    Nl2SqlError
    ├── ConfigurationError            bad settings, unknown model spec, unknown database URL scheme
    ├── InvalidQuestionError          empty, oversized or non-text question
    ├── SQLValidationError            SQL that parses but names unknown tables/columns (feeds the repair loop)
    ├── UnsafeSQLError                SQL that violates the safety policy (writes, system catalogs, ...)
    ├── PermissionDeniedError         the caller's policy hides what the question needs
    ├── DatabaseError
    │   ├── DatabaseUnavailableError  cannot connect / database file missing
    │   ├── QueryExecutionError       the database rejected the statement
    │   ├── QueryTimeoutError         the statement ran past its time limit
    │   └── QueryTooExpensiveError    the planner's estimate is over the policy's cost limit
    ├── ModelError
    │   ├── ModelUnavailableError     endpoint down, connection refused, auth failure
    │   ├── ModelTimeoutError         the model did not answer in time (after retries)
    │   └── ModelOutputError          the model answered, but with no usable SQL
    ├── CheckpointerError             conversation memory cannot be read or written
    ├── BudgetExceededError           the caller's token/cost budget is spent
    └── RateLimitedError              too many requests for this caller

Expected, recoverable outcomes inside a run (a draft that fails validation and goes back to the model)
are graph *state*, not exceptions: they become exceptions only once the repair loop gives up.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable, machine-readable error codes. Never renumber or rename: clients match on them."""

    CONFIGURATION = "configuration"
    INVALID_QUESTION = "invalid_question"
    SQL_VALIDATION = "sql_validation"
    UNSAFE_SQL = "unsafe_sql"
    PERMISSION_DENIED = "permission_denied"
    DATABASE_UNAVAILABLE = "database_unavailable"
    QUERY_FAILED = "query_failed"
    QUERY_TIMEOUT = "query_timeout"
    QUERY_TOO_EXPENSIVE = "query_too_expensive"
    MODEL_UNAVAILABLE = "model_unavailable"
    MODEL_TIMEOUT = "model_timeout"
    MODEL_OUTPUT = "model_output"
    CHECKPOINTER = "checkpointer"
    BUDGET_EXCEEDED = "budget_exceeded"
    RATE_LIMITED = "rate_limited"


class Nl2SqlError(Exception):
    """Root of every error this library raises on purpose."""

    code: ErrorCode = ErrorCode.CONFIGURATION

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.answer: Any = None
        """The partial :class:`~nl2sql_agent.answer.Answer` of the run that failed, when there was a run."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by the CLI and the API: ``{"code", "message", "details"}``."""
        return {"code": str(self.code), "message": self.message, "details": self.details}


class ConfigurationError(Nl2SqlError):
    """Settings, model spec or database URL that cannot work."""

    code = ErrorCode.CONFIGURATION


class InvalidQuestionError(Nl2SqlError):
    """The question is empty, too long or not text."""

    code = ErrorCode.INVALID_QUESTION


class SQLValidationError(Nl2SqlError):
    """SQL that is safe in shape but wrong for this schema (unknown table or column, bad syntax).

    ``issues`` lists human-readable problems, each with a "did you mean" hint where one exists;
    they are fed back to the model by the repair loop.
    """

    code = ErrorCode.SQL_VALIDATION

    def __init__(self, message: str, *, issues: list[str] | None = None, sql: str | None = None) -> None:
        self.issues = list(issues or [message])
        self.sql = sql
        super().__init__(message, details={"issues": self.issues, "sql": sql})


class UnsafeSQLError(Nl2SqlError):
    """SQL that violates the safety policy. ``reasons`` says which rules it broke.

    ``denied`` names the tables and ``table.column``s that exist but the caller may not read.
    """

    code = ErrorCode.UNSAFE_SQL

    def __init__(
        self,
        message: str,
        *,
        reasons: list[str] | None = None,
        sql: str | None = None,
        denied: list[str] | None = None,
    ) -> None:
        self.reasons = list(reasons or [message])
        self.sql = sql
        self.denied = list(denied or [])
        super().__init__(message, details={"reasons": self.reasons, "sql": sql, "denied": self.denied})


class PermissionDeniedError(Nl2SqlError):
    """The caller's data policy does not allow what was asked for."""

    code = ErrorCode.PERMISSION_DENIED


class DatabaseError(Nl2SqlError):
    """Base for failures talking to the queried database."""

    code = ErrorCode.QUERY_FAILED


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached or opened."""

    code = ErrorCode.DATABASE_UNAVAILABLE


class QueryExecutionError(DatabaseError):
    """The database rejected the statement; ``details["db_message"]`` has its own words."""

    code = ErrorCode.QUERY_FAILED


class QueryTimeoutError(DatabaseError):
    """The statement ran past the time limit and was cancelled."""

    code = ErrorCode.QUERY_TIMEOUT


class QueryTooExpensiveError(DatabaseError):
    """The planner's cost estimate is over the policy's limit; narrow the question."""

    code = ErrorCode.QUERY_TOO_EXPENSIVE


class ModelError(Nl2SqlError):
    """Base for failures of the language model."""

    code = ErrorCode.MODEL_UNAVAILABLE


class ModelUnavailableError(ModelError):
    """The model endpoint is down or refused the call."""

    code = ErrorCode.MODEL_UNAVAILABLE


class ModelTimeoutError(ModelError):
    """The model did not answer in time, after retries."""

    code = ErrorCode.MODEL_TIMEOUT


class ModelOutputError(ModelError):
    """The model answered, but its output holds no usable SQL."""

    code = ErrorCode.MODEL_OUTPUT


class CheckpointerError(Nl2SqlError):
    """Conversation memory cannot be opened, read or written."""

    code = ErrorCode.CHECKPOINTER


class BudgetExceededError(Nl2SqlError):
    """The caller's token or cost budget is spent; nothing was sent to the model."""

    code = ErrorCode.BUDGET_EXCEEDED


class RateLimitedError(Nl2SqlError):
    """Too many requests; ``retry_after_s`` says when to come back."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, details={"retry_after_s": retry_after_s})


_BY_CODE: dict[ErrorCode, type[Nl2SqlError]] = {
    ErrorCode.CONFIGURATION: ConfigurationError,
    ErrorCode.INVALID_QUESTION: InvalidQuestionError,
    ErrorCode.PERMISSION_DENIED: PermissionDeniedError,
    ErrorCode.DATABASE_UNAVAILABLE: DatabaseUnavailableError,
    ErrorCode.QUERY_FAILED: QueryExecutionError,
    ErrorCode.QUERY_TIMEOUT: QueryTimeoutError,
    ErrorCode.QUERY_TOO_EXPENSIVE: QueryTooExpensiveError,
    ErrorCode.MODEL_UNAVAILABLE: ModelUnavailableError,
    ErrorCode.MODEL_TIMEOUT: ModelTimeoutError,
    ErrorCode.MODEL_OUTPUT: ModelOutputError,
    ErrorCode.CHECKPOINTER: CheckpointerError,
    ErrorCode.BUDGET_EXCEEDED: BudgetExceededError,
}


def error_from_record(code: str, message: str, details: dict[str, Any] | None = None) -> Nl2SqlError:
    """Rebuild the typed exception for an error record kept in graph state."""
    error_code = ErrorCode(code)
    if error_code is ErrorCode.SQL_VALIDATION:
        return SQLValidationError(message, issues=(details or {}).get("issues"), sql=(details or {}).get("sql"))
    if error_code is ErrorCode.UNSAFE_SQL:
        return UnsafeSQLError(message, reasons=(details or {}).get("reasons"), sql=(details or {}).get("sql"))
    if error_code is ErrorCode.RATE_LIMITED:
        return RateLimitedError(message, retry_after_s=float((details or {}).get("retry_after_s", 1.0)))
    return _BY_CODE[error_code](message, details=details)
