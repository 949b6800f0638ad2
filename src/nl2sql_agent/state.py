"""Graph state: the input a caller gives, the working keys nodes write, and the output a run returns.

Per-turn keys are reset when ``detect_intent`` starts a turn, then written by the node that produces them;
``turns`` and ``summary`` persist across turns of a thread (conversation memory).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from typing_extensions import TypedDict

Intent = Literal["data", "off_topic", "write_request", "injection", "not_permitted", "unanswerable"]
Stage = Literal["draft", "validate", "execute"]


class Issue(TypedDict):
    """Why a draft failed; fed back to the model on the next attempt."""

    attempt: int
    stage: Stage
    code: str
    message: str
    sql: str | None


class TurnRecord(TypedDict):
    """A finished exchange, as kept in the checkpointer (plain data, so every saver can store it)."""

    question: str
    answer: str
    sql: str | None
    status: str


def append_issues(current: list[Issue] | None, update: list[Issue] | None) -> list[Issue]:
    """Reducer for ``issues``: ``None`` starts a new turn's list, a list is appended."""
    if update is None:
        return []
    return [*(current or []), *update]


class InputState(TypedDict):
    """What a caller passes in."""

    question: str
    evidence: NotRequired[str | None]
    """Optional domain hint shown to the model (e.g. BIRD's evidence)."""


class OutputState(TypedDict):
    """What a run hands back."""

    status: Literal["answered", "refused", "error"]
    answer: str
    sql: str | None
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    error: dict[str, Any] | None
    attempts: int
    intent: Intent | None


class AgentState(InputState, OutputState):
    """Everything the graph keeps for a thread."""

    refusal: str | None
    tables: list[str]
    schema_prompt: str
    draft: str | None
    issues: Annotated[list[Issue], append_issues]
    executed: bool
    capped: bool
    db_ms: float
    turns: list[TurnRecord]
    summary: str
