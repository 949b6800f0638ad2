"""Replay the check stage (join tidying, autofixes, rewrites) on stored drafts, and score what changes.

    python evals/scripts/replay_checks.py evals/reports/2026-12-04/agent_full.predictions.jsonl ...

For each single-turn item that was answered or ended in a validation error, the stored SQL goes through
the current ``check_sql`` rules again (``nodes.check.validated``). Where the SQL that would run differs
from the stored one, both are scored and the item is printed as GAINED, LOST or SAME; a summary per
benchmark follows. A rule that rewrites drafts should gain on some benchmarks and lose on none, without a
model call: the drafts are the model's, only what the agent makes of them changes.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from nl2sql_agent import Agent
from nl2sql_agent.errors import Nl2SqlError
from nl2sql_agent.evals.agent_predictor import EVAL_MAX_ROWS, eval_settings_factory
from nl2sql_agent.evals.loaders import load_benchmarks
from nl2sql_agent.evals.prediction import TurnPrediction
from nl2sql_agent.evals.scoring import score_turn
from nl2sql_agent.nodes.check import validated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("predictions", nargs="+", type=Path)
    parser.add_argument("--only", help="benchmark to replay (spider, bird, defog, sample)")
    args = parser.parse_args()
    items = {item.id: item for item in load_benchmarks(["spider", "bird", "defog", "sample"])}
    settings = eval_settings_factory(model="fake")
    agents: dict[str, Agent] = {}
    tally: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for path in args.predictions:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            item = items.get(record["id"])
            prediction = record["prediction"]
            if item is None or item.turns or item.must_refuse or not prediction["sql"]:
                continue
            if args.only and item.source != args.only:
                continue
            if prediction["status"] != "answered" and prediction["error_code"] != "sql_validation":
                continue
            if item.db_url not in agents:
                agents[item.db_url] = Agent.from_settings(settings(item.db_url))
            context = agents[item.db_url].context()
            try:
                sql = validated(_as_drafted(prediction["sql"]), item.question, context).sql
            except Nl2SqlError:
                sql = None
            was = bool(record["score"]["correct"])
            if sql is None and prediction["status"] != "answered":
                continue
            if sql is not None and prediction["status"] == "answered" and _same(sql, prediction["sql"]):
                continue
            now = sql is not None and _correct(item, sql)
            verdict = "SAME" if now == was else ("GAINED" if now else "LOST")
            tally[item.source][verdict] += 1
            print(f"{verdict:7}{item.id}\n  was: {' '.join(prediction['sql'].split())}\n  now: {sql}")
    for source, counts in sorted(tally.items()):
        print(f"{source}: gained {counts['GAINED']}, lost {counts['LOST']}, changed but same {counts['SAME']}")
    for agent in agents.values():
        agent.close()


def _as_drafted(sql: str) -> str:
    """The stored SQL without the row cap the check stage added (the draft had no LIMIT of its own)."""
    return sql.removesuffix(f" LIMIT {EVAL_MAX_ROWS}")


def _same(left: str, right: str) -> bool:
    return " ".join(left.split()).lower() == " ".join(right.split()).lower()


def _correct(item, sql: str) -> bool:  # type: ignore[no-untyped-def]
    turn = item.all_turns()[0]
    prediction = TurnPrediction("answered", sql=sql)
    return score_turn(item.target, turn, prediction, rule=item.match_rule, dialect=item.dialect).correct


if __name__ == "__main__":
    main()
