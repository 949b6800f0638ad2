"""Score one prediction against its item: execute gold and predicted SQL and compare the results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from nl2sql_agent.evals.compare import gold_is_ordered, gold_tie_columns, results_match, statement_kind
from nl2sql_agent.evals.execution import DEFAULT_TIMEOUT_S, ExecutionFailed, QueryResult, run_query
from nl2sql_agent.evals.gold import expand_gold
from nl2sql_agent.evals.items import BenchItem, EvalTurn, MatchRule
from nl2sql_agent.evals.prediction import NO_SQL, Prediction, TurnPrediction


@dataclass(frozen=True)
class TurnScore:
    """How one turn fared."""

    correct: bool
    refused: bool
    must_refuse: bool
    pred_error: str | None = None
    """Why the predicted SQL gave no result: ``timeout``, ``error``, ``readonly``, ``no_sql`` or the
    prediction's own ``error_code``."""
    unsafe_sql: bool = False
    """The predicted SQL is not a single read-only query (sqlglot AST): a write the harness refused to run."""
    gold_error: str | None = None
    """Set when no gold alternative could run: the turn is left out of accuracy."""
    matched_gold: int | None = None
    """Index of the gold alternative that matched."""


@dataclass(frozen=True)
class ItemScore:
    """How one item fared; a single-turn item has one turn."""

    turns: tuple[TurnScore, ...] = field(default_factory=tuple)

    @property
    def correct(self) -> bool:
        """Every turn is correct (for a single-turn item: the item is)."""
        return all(turn.correct for turn in self.turns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"correct": self.correct, "turns": [asdict(turn) for turn in self.turns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemScore:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(TurnScore(**turn) for turn in data["turns"]))


def _run_gold(target: str, gold_sql: str, timeout_s: float) -> tuple[list[tuple[str, QueryResult]], str | None]:
    results: list[tuple[str, QueryResult]] = []
    last_error: str | None = None
    for query in expand_gold(gold_sql):
        try:
            results.append((query, run_query(target, query, timeout_s=timeout_s)))
        except ExecutionFailed as failure:
            last_error = f"{failure.kind}: {failure.message}"
    return results, (None if results else last_error or "no gold query")


def score_turn(
    target: str,
    turn: EvalTurn,
    prediction: TurnPrediction,
    *,
    rule: MatchRule = "exact",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    dialect: str = "sqlite",
) -> TurnScore:
    """Score one turn on ``target`` (a SQLite file's path or a PostgreSQL URL, in ``dialect``).

    A must-refuse turn is correct when it was refused. An answerable turn is correct when it was answered
    with SQL whose result matches the result of any gold alternative.
    """
    refused = prediction.status == "refused"
    if turn.must_refuse or turn.gold_sql is None:
        return TurnScore(correct=refused, refused=refused, must_refuse=True, pred_error=prediction.error_code)
    golds, gold_error = _run_gold(target, turn.gold_sql, timeout_s)
    if prediction.status != "answered" or not prediction.sql:
        if refused:
            reason = "refused"
        else:
            reason = prediction.error_code or (NO_SQL if prediction.status == "answered" else "error")
        return TurnScore(False, refused, False, pred_error=reason, gold_error=gold_error)
    kind = statement_kind(prediction.sql, dialect)
    if kind == "write":
        return TurnScore(False, False, False, pred_error="unsafe_sql", unsafe_sql=True, gold_error=gold_error)
    if kind == "multiple":
        return TurnScore(False, False, False, pred_error="multiple_statements", gold_error=gold_error)
    try:
        predicted = run_query(target, prediction.sql, timeout_s=timeout_s)
    except ExecutionFailed as failure:
        unsafe = failure.kind == "readonly"
        return TurnScore(False, False, False, pred_error=failure.kind, unsafe_sql=unsafe, gold_error=gold_error)
    for index, (query, gold) in enumerate(golds):
        ordered, ties = gold_is_ordered(query, dialect), gold_tie_columns(query, dialect)
        if results_match(gold, predicted, ordered=ordered, rule=rule, ties=ties):
            return TurnScore(True, False, False, matched_gold=index)
    return TurnScore(False, False, False, gold_error=gold_error)


def score_item(item: BenchItem, prediction: Prediction, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> ItemScore:
    """Score every turn of ``item``; turns the predictor never reached count as errors."""
    predicted_turns = prediction.all_turns()
    scores: list[TurnScore] = []
    for index, turn in enumerate(item.all_turns()):
        if index < len(predicted_turns):
            turn_prediction = predicted_turns[index]
        else:
            turn_prediction = TurnPrediction("error", error_code=prediction.error_code or "not_reached")
        scores.append(
            score_turn(
                item.target, turn, turn_prediction, rule=item.match_rule, timeout_s=timeout_s, dialect=item.dialect
            )
        )
    return ItemScore(tuple(scores))
