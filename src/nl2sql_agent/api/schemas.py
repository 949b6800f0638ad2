"""Request and response bodies of the HTTP API (what OpenAPI documents)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

THREAD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
TEXT_PATTERN = r"^[^\x00]*$"
"""Free text may hold anything but NUL, which PostgreSQL text (checkpoints, verified pairs) cannot store:
refused here as a 422, not discovered later as a database error."""


class AskRequest(BaseModel):
    """A question, optionally continuing a conversation."""

    question: str = Field(
        min_length=1, max_length=4000, pattern=TEXT_PATTERN, examples=["How many customers are there?"]
    )
    thread_id: str | None = Field(
        default=None,
        pattern=THREAD_ID_PATTERN,
        description="Conversation to continue or start. Omit for a one-off (cacheable) question.",
    )
    evidence: str | None = Field(
        default=None,
        max_length=4000,
        pattern=TEXT_PATTERN,
        description="Extra domain hints, e.g. 'revenue = price * quantity'.",
    )


class ThreadAskRequest(BaseModel):
    """A follow-up question in an existing conversation."""

    question: str = Field(min_length=1, max_length=4000, pattern=TEXT_PATTERN, examples=["And in 2023?"])
    evidence: str | None = Field(default=None, max_length=4000, pattern=TEXT_PATTERN)


class UsageOut(BaseModel):
    """Tokens spent by this request and what they cost."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    llm_calls: int
    cost_usd: float


class AskResponse(BaseModel):
    """The answer, the SQL that ran and its rows."""

    status: Literal["answered", "refused", "error"]
    question: str
    answer: str
    sql: str | None = None
    columns: list[str] = []
    rows: list[list[Any]] = []
    truncated: bool = False
    thread_id: str | None = None
    attempts: int = 0
    timings_ms: dict[str, float] = {}
    usage: UsageOut
    cached: bool = Field(description="True when served from the answer cache (no model calls).")
    model: str


class TurnOut(BaseModel):
    """One past exchange of a conversation."""

    question: str
    answer: str
    sql: str | None = None
    status: str


class ThreadOut(BaseModel):
    """A conversation's history, oldest turn first."""

    thread_id: str
    turns: list[TurnOut]


class VerifiedRequest(BaseModel):
    """A question with SQL a person checked to be right for it."""

    question: str = Field(min_length=1, max_length=4000, pattern=TEXT_PATTERN)
    sql: str = Field(min_length=1, max_length=20_000, pattern=TEXT_PATTERN)
    note: str | None = Field(default=None, max_length=2000, pattern=TEXT_PATTERN)


class VerifiedOut(BaseModel):
    """A stored verified pair."""

    id: int
    principal_id: str
    question: str
    sql: str
    note: str | None = None
    created_at: str


class UsageTodayOut(BaseModel):
    """The caller's usage on the current UTC day."""

    principal_id: str
    day: str
    requests: int
    cached_requests: int
    input_tokens: int
    output_tokens: int
    llm_calls: int
    cost_usd: float
    budget_usd: float | None
    remaining_usd: float | None


class CheckOut(BaseModel):
    """One readiness check."""

    ok: bool
    detail: str = ""
    latency_ms: float = 0.0


class ReadyOut(BaseModel):
    """Every readiness check; HTTP 503 unless all are ok."""

    ready: bool
    checks: dict[str, CheckOut]


class ErrorBody(BaseModel):
    """A stable error code, a human message and structured details."""

    code: str = Field(examples=["permission_denied"])
    message: str
    details: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    """Every error response has this shape."""

    error: ErrorBody
