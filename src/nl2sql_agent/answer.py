"""What a run returns: the answer, the SQL that ran, the rows, usage and timings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["answered", "refused", "error"]


@dataclass(frozen=True)
class Usage:
    """Token usage summed over every model call of a run, from the models' own usage metadata."""

    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.llm_calls + other.llm_calls,
        )

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Turn:
    """One finished question/answer exchange kept in conversation memory."""

    question: str
    answer: str
    sql: str | None = None
    status: Status = "answered"


@dataclass(frozen=True)
class Answer:
    """The outcome of one question."""

    status: Status
    """``answered``, ``refused`` (off-topic or not permitted) or ``error`` (only in ``--json``/API output)."""
    question: str
    answer: str
    """A short natural-language answer grounded in ``rows``, or the refusal / failure message."""
    sql: str | None = None
    """The statement that actually ran (after validation rewrites such as the row limit)."""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    truncated: bool = False
    error: dict[str, Any] | None = None
    """``{"code", "message", "details"}`` when ``status == "error"``."""
    usage: Usage = field(default_factory=Usage)
    timings_ms: dict[str, float] = field(default_factory=dict)
    """Wall time per graph node, in the order the nodes ran (repeated nodes are summed)."""
    thread_id: str | None = None
    attempts: int = 0
    """How many SQL drafts the run needed (1 = first draft ran)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json`` and the API's response body)."""
        data = asdict(self)
        data["rows"] = [list(row) for row in self.rows]
        data["columns"] = list(self.columns)
        data["usage"] = {**asdict(self.usage), "total_tokens": self.usage.total_tokens}
        return data


@dataclass(frozen=True)
class StepEvent:
    """One graph step as it happens (for progress display and Server-Sent Events)."""

    node: str
    elapsed_ms: float
    update: dict[str, Any] = field(default_factory=dict)
    """The JSON-safe part of what the node wrote (e.g. ``sql``, ``intent``, ``tables``)."""
