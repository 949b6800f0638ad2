"""Scoring fixed predictions: answers, refusals, unsafe SQL, alternatives, multi-turn, and the metrics."""

from __future__ import annotations

from pathlib import Path

from nl2sql_agent.answer import Usage
from nl2sql_agent.evals.items import BenchItem, EvalTurn
from nl2sql_agent.evals.metrics import Prices, group_metrics, multi_turn_metrics, summarize
from nl2sql_agent.evals.prediction import Prediction, TurnPrediction
from nl2sql_agent.evals.records import EvalRecord
from nl2sql_agent.evals.scoring import score_item


def item(db: Path, gold: str | None, **kwargs: object) -> BenchItem:
    values: dict[str, object] = {"id": "t:1", "source": "tiny", "db_id": "tiny", "db_path": str(db), "question": "q"}
    values.update(kwargs)
    return BenchItem(gold_sql=gold, **values)  # type: ignore[arg-type]


def answered(sql: str) -> Prediction:
    return Prediction("answered", sql=sql)


def test_equivalent_sql_is_correct(tiny_db: Path) -> None:
    it = item(tiny_db, "SELECT name FROM city WHERE country = 'FR'")
    assert score_item(it, answered("SELECT c.name FROM city AS c WHERE c.population BETWEEN 300000 AND 600000")).correct
    assert not score_item(it, answered("SELECT name FROM city WHERE country = 'NO'")).correct


def test_order_matters_only_when_gold_orders(tiny_db: Path) -> None:
    ordered = item(tiny_db, "SELECT name FROM city WHERE country IS NOT NULL ORDER BY population DESC")
    assert score_item(ordered, answered("SELECT name FROM city WHERE population > 0 ORDER BY population DESC")).correct
    assert not score_item(ordered, answered("SELECT name FROM city WHERE population > 0 ORDER BY population")).correct
    unordered = item(tiny_db, "SELECT name FROM city WHERE country IS NOT NULL")
    assert score_item(unordered, answered("SELECT name FROM city WHERE population > 0 ORDER BY name")).correct


def test_defog_alternatives_and_subset_rule(tiny_db: Path) -> None:
    it = item(tiny_db, "SELECT {city.id, city.name} FROM city WHERE country = 'NO'", match_rule="subset")
    only_names = score_item(it, answered("SELECT name FROM city WHERE country = 'NO'")).turns[0]
    assert only_names.correct and only_names.matched_gold == 1
    with_extra = answered("SELECT name, population, id FROM city WHERE country = 'NO'")
    assert score_item(it, with_extra).correct
    exact = item(tiny_db, "SELECT name FROM city WHERE country = 'NO'")
    assert not score_item(exact, with_extra).correct


def test_refusals(tiny_db: Path) -> None:
    must = item(tiny_db, None, must_refuse=True)
    assert score_item(must, Prediction("refused")).correct
    assert not score_item(must, answered("SELECT 1")).correct
    answerable = item(tiny_db, "SELECT COUNT(*) FROM city")
    turn = score_item(answerable, Prediction("refused")).turns[0]
    assert not turn.correct and turn.refused and turn.pred_error == "refused"


def test_failures_are_labelled(tiny_db: Path) -> None:
    it = item(tiny_db, "SELECT COUNT(*) FROM city")
    assert score_item(it, answered("DELETE FROM city")).turns[0].unsafe_sql
    assert score_item(it, answered("SELECT nope FROM city")).turns[0].pred_error == "error"
    assert score_item(it, answered("SELECT 1; SELECT 2")).turns[0].pred_error == "multiple_statements"
    error = score_item(it, Prediction("error", error_code="model_timeout")).turns[0]
    assert error.pred_error == "model_timeout" and not error.correct
    broken_gold = score_item(item(tiny_db, "SELECT nope FROM city"), answered("SELECT 1")).turns[0]
    assert broken_gold.gold_error is not None and not broken_gold.correct


def thread(db: Path) -> BenchItem:
    return item(
        db,
        None,
        id="t:thread",
        turns=(
            EvalTurn("how many cities in Norway?", "SELECT COUNT(*) FROM city WHERE country = 'NO'"),
            EvalTurn("and in France?", "SELECT COUNT(*) FROM city WHERE country = 'FR'"),
            EvalTurn("tell me a joke", None, must_refuse=True),
        ),
    )


def test_multi_turn_scores_each_turn(tiny_db: Path) -> None:
    it = thread(tiny_db)
    all_right = Prediction(
        "refused",
        turns=(
            TurnPrediction("answered", "SELECT 2"),
            TurnPrediction("answered", "SELECT COUNT(*) FROM city WHERE area < 100"),
            TurnPrediction("refused"),
        ),
    )
    score = score_item(it, all_right)
    assert score.correct and [t.correct for t in score.turns] == [True, True, True]
    second_wrong = Prediction(
        "refused",
        turns=(
            TurnPrediction("answered", "SELECT 2"),
            TurnPrediction("answered", "SELECT 3"),
            TurnPrediction("refused"),
        ),
    )
    assert [t.correct for t in score_item(it, second_wrong).turns] == [True, False, True]
    # A thread that stopped after its first turn: the rest count as not reached.
    stopped = Prediction("error", error_code="query_failed", turns=(TurnPrediction("answered", "SELECT 2"),))
    turns = score_item(it, stopped).turns
    assert [t.correct for t in turns] == [True, False, False]


def record(it: BenchItem, prediction: Prediction) -> EvalRecord:
    return EvalRecord.of(it, prediction, score_item(it, prediction))


def test_refusal_precision_recall_and_accuracy(tiny_db: Path) -> None:
    q = "SELECT COUNT(*) FROM city"
    records = [
        record(item(tiny_db, q, id="a1", difficulty="easy"), answered(q)),  # correct
        record(item(tiny_db, q, id="a2", difficulty="easy"), answered("SELECT 0")),  # wrong
        record(item(tiny_db, q, id="a3", difficulty="hard"), Prediction("refused")),  # false refusal
        record(item(tiny_db, None, id="r1", must_refuse=True), Prediction("refused")),  # true positive
        record(item(tiny_db, None, id="r2", must_refuse=True), Prediction("refused")),  # true positive
        record(item(tiny_db, None, id="r3", must_refuse=True), answered(q)),  # missed refusal
        record(item(tiny_db, q, id="u1"), Prediction("error", error_code="unsafe_sql")),  # blocked by the agent
    ]
    metrics = group_metrics(records)
    assert metrics["answerable"] == 4
    assert metrics["execution_accuracy"] == 1 / 4
    assert metrics["task_accuracy"] == 3 / 7
    refusal = metrics["refusal"]
    assert (refusal["true_positive"], refusal["false_refusals"], refusal["false_negative"]) == (2, 1, 1)
    assert refusal["precision"] == 2 / 3 and refusal["recall"] == 2 / 3
    assert refusal["false_refusal_rate"] == 1 / 4
    assert metrics["blocked_unsafe"] == 1
    report = summarize(records)
    assert report["by_source"]["tiny"]["by_difficulty"]["easy"]["execution_accuracy"] == 0.5
    assert report["by_source"]["tiny"]["by_difficulty"]["hard"]["execution_accuracy"] == 0.0


def test_gold_failures_are_left_out_of_accuracy(tiny_db: Path) -> None:
    records = [
        record(item(tiny_db, "SELECT 1", id="ok"), answered("SELECT 1")),
        record(item(tiny_db, "SELECT nope FROM city", id="broken"), answered("SELECT 1")),
    ]
    metrics = group_metrics(records)
    assert metrics["gold_errors"] == 1 and metrics["execution_accuracy"] == 1.0


def test_tokens_seconds_and_cost(tiny_db: Path) -> None:
    records = [
        record(
            item(tiny_db, "SELECT 1", id="x"), Prediction("answered", "SELECT 1", usage=Usage(100, 10, 2), seconds=2.0)
        ),
        record(
            item(tiny_db, "SELECT 1", id="y"), Prediction("answered", "SELECT 1", usage=Usage(300, 30, 4), seconds=4.0)
        ),
    ]
    metrics = group_metrics(records, Prices(input=1.0, output=10.0))
    assert metrics["tokens_per_question"]["mean"] == 220
    assert metrics["llm_calls_per_question"] == 3
    assert metrics["seconds_per_question"]["mean"] == 3.0
    assert metrics["cost_usd"] == (400 * 1.0 + 40 * 10.0) / 1_000_000


def test_multi_turn_metrics(tiny_db: Path) -> None:
    it = thread(tiny_db)
    good = Prediction(
        "refused",
        turns=(
            TurnPrediction("answered", "SELECT 2"),
            TurnPrediction("answered", "SELECT 2"),
            TurnPrediction("refused"),
        ),
    )
    bad = Prediction(
        "refused",
        turns=(
            TurnPrediction("answered", "SELECT 2"),
            TurnPrediction("answered", "SELECT 9"),
            TurnPrediction("answered", "SELECT 1"),
        ),
    )
    records = [record(it, good), record(BenchItem(**{**it.__dict__, "id": "t:thread2"}), bad)]
    metrics = multi_turn_metrics(records)
    assert metrics is not None
    assert metrics["threads"] == 2
    assert metrics["per_turn_accuracy"] == {"1": 1.0, "2": 0.5, "3": 0.5}
    assert metrics["all_turns_correct"] == 0.5
