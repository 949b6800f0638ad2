"""One line of a run's ``predictions.jsonl``: the item's key facts, the prediction and its score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nl2sql_agent.evals.items import BenchItem
from nl2sql_agent.evals.prediction import Prediction
from nl2sql_agent.evals.scoring import ItemScore


@dataclass(frozen=True)
class EvalRecord:
    """A scored prediction, self-contained so reports can be rebuilt from the JSONL file alone."""

    item_id: str
    source: str
    db_id: str
    difficulty: str | None
    must_refuse: bool
    question: str
    prediction: Prediction
    score: ItemScore

    @classmethod
    def of(cls, item: BenchItem, prediction: Prediction, score: ItemScore) -> EvalRecord:
        """Build the record of ``item``."""
        return cls(
            item_id=item.id,
            source=item.source,
            db_id=item.db_id,
            difficulty=item.difficulty,
            must_refuse=item.must_refuse,
            question=item.question,
            prediction=prediction,
            score=score,
        )

    @property
    def is_multi_turn(self) -> bool:
        """Whether the item was a thread of several questions."""
        return len(self.score.turns) > 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (one JSONL line)."""
        return {
            "id": self.item_id,
            "source": self.source,
            "db_id": self.db_id,
            "difficulty": self.difficulty,
            "must_refuse": self.must_refuse,
            "question": self.question,
            "prediction": self.prediction.to_dict(),
            "score": self.score.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            item_id=data["id"],
            source=data["source"],
            db_id=data["db_id"],
            difficulty=data.get("difficulty"),
            must_refuse=bool(data.get("must_refuse", False)),
            question=data.get("question", ""),
            prediction=Prediction.from_dict(data["prediction"]),
            score=ItemScore.from_dict(data["score"]),
        )
