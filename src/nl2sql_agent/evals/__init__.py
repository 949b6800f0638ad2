"""Execution-accuracy evaluation harness: benchmark loaders, result comparison, scoring, runner, reports.

The pieces, in the order data flows through them::

    loaders  -> BenchItem            (Spider, BIRD, defog, the sample retail set, the off-topic set)
    postgres.on_postgres(items, url) (optional: the same items on PostgreSQL, with PostgreSQL gold)
    Predictor.predict(item) -> Prediction   (AgentPredictor, SqlQueryChainPredictor baseline)
    scoring  -> ItemScore            (gold and predicted SQL run read-only; compare.results_match)
    runner.run_eval -> predictions.jsonl (resumable) + report.json / report.md / report.html

Nothing heavy is imported here: the baseline's LangChain packages load only when it is used.
"""

from __future__ import annotations

from nl2sql_agent.evals.agent_predictor import AgentPredictor, eval_settings_factory
from nl2sql_agent.evals.cli import add_eval_arguments, main, run_from_args
from nl2sql_agent.evals.compare import gold_is_ordered, results_match, statement_kind
from nl2sql_agent.evals.execution import QueryResult, run_query
from nl2sql_agent.evals.gold import expand_gold
from nl2sql_agent.evals.items import BenchItem, EvalTurn
from nl2sql_agent.evals.loaders import BENCHMARKS, load_benchmark, load_benchmarks
from nl2sql_agent.evals.metrics import Prices, summarize
from nl2sql_agent.evals.postgres import on_postgres
from nl2sql_agent.evals.prediction import Prediction, Predictor, TurnPrediction
from nl2sql_agent.evals.records import EvalRecord
from nl2sql_agent.evals.runner import EvalRun, read_records, run_eval
from nl2sql_agent.evals.scoring import ItemScore, TurnScore, score_item

__all__ = [
    "BENCHMARKS",
    "AgentPredictor",
    "BenchItem",
    "EvalRecord",
    "EvalRun",
    "EvalTurn",
    "ItemScore",
    "Prediction",
    "Predictor",
    "Prices",
    "QueryResult",
    "TurnPrediction",
    "TurnScore",
    "add_eval_arguments",
    "eval_settings_factory",
    "expand_gold",
    "gold_is_ordered",
    "load_benchmark",
    "load_benchmarks",
    "main",
    "on_postgres",
    "read_records",
    "results_match",
    "run_eval",
    "run_from_args",
    "run_query",
    "score_item",
    "statement_kind",
    "summarize",
]
