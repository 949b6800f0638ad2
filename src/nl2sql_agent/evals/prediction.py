"""What a predictor returns for an item, and the protocol every predictor follows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from nl2sql_agent.answer import Usage
from nl2sql_agent.evals.items import BenchItem

PredictionStatus = Literal["answered", "refused", "error"]

HARNESS_EXCEPTION = "harness_exception"
"""``error_code`` of a prediction whose predictor raised instead of returning."""
NO_SQL = "no_sql"
"""``error_code`` of an answer that carries no SQL to execute."""


@dataclass(frozen=True)
class TurnPrediction:
    """The outcome of one turn of a multi-turn item."""

    status: PredictionStatus
    sql: str | None = None
    answer: str = ""
    error_code: str | None = None


@dataclass(frozen=True)
class Prediction:
    """A predictor's outcome for one item (for multi-turn items: the last turn, plus ``turns``)."""

    status: PredictionStatus
    sql: str | None = None
    answer: str = ""
    usage: Usage = field(default_factory=Usage)
    """Summed over every model call the item needed, from the models' own usage metadata."""
    seconds: float = 0.0
    error_code: str | None = None
    """An :class:`~nl2sql_agent.errors.ErrorCode` value, or :data:`HARNESS_EXCEPTION` / :data:`NO_SQL`."""
    error_message: str | None = None
    turns: tuple[TurnPrediction, ...] = ()
    """One entry per turn for multi-turn items; empty otherwise."""

    @classmethod
    def from_turns(
        cls,
        turns: list[TurnPrediction],
        *,
        usage: Usage,
        seconds: float,
        multi_turn: bool,
        error_message: str | None = None,
    ) -> Prediction:
        """The item's prediction from its turns: the last turn's outcome, with every turn kept for threads."""
        last = turns[-1]
        return cls(
            status=last.status,
            sql=last.sql,
            answer=last.answer,
            usage=usage,
            seconds=seconds,
            error_code=last.error_code,
            error_message=error_message,
            turns=tuple(turns) if multi_turn else (),
        )

    def all_turns(self) -> tuple[TurnPrediction, ...]:
        """The per-turn outcomes (a single-turn prediction is its own only turn)."""
        if self.turns:
            return self.turns
        return (TurnPrediction(self.status, self.sql, self.answer, self.error_code),)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = asdict(self)
        data["turns"] = [asdict(turn) for turn in self.turns]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prediction:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["usage"] = Usage(**values.get("usage", {}))
        values["turns"] = tuple(TurnPrediction(**turn) for turn in values.get("turns", ()))
        return cls(**values)


@runtime_checkable
class Predictor(Protocol):
    """Anything that turns a benchmark item into a :class:`Prediction`.

    ``predict`` should not raise: failures are predictions with ``status="error"``. The runner still
    catches what escapes and records it as :data:`HARNESS_EXCEPTION`.
    """

    name: str
    """Shown in reports (e.g. ``nl2sql-agent/qwen2.5-coder-1.5b``)."""
    use_evidence: bool
    """Whether items' ``evidence`` hints are passed to the model (reported next to the scores)."""

    def predict(self, item: BenchItem) -> Prediction:
        """Answer ``item`` (every turn of it, in one thread)."""
        ...
