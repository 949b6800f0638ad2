"""Replay the give-up refusal's concept check (``unanswerable.missing_concepts``) on stored refusals.

    python evals/scripts/replay_give_up.py evals/reports/2026-12-04/agent_full.predictions.jsonl ...

For each refusal that says "it holds no data on X", asks the current rules whether X is still a concept the
database lacks, with the item's question, schema and hint, and prints KEPT or CHANGED. A change to those
rules should change only the answerable items it means to, and keep every must-refuse one.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from nl2sql_agent import Agent, Settings
from nl2sql_agent.evals.loaders import load_benchmarks
from nl2sql_agent.unanswerable import missing_concepts

_REFUSAL = re.compile(r"it holds no data on (.*)\.$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("predictions", nargs="+", type=Path)
    args = parser.parse_args()
    items = {item.id: item for item in load_benchmarks(["spider", "bird", "defog", "sample", "offtopic"])}
    agents: dict[str, Agent] = {}
    for path in args.predictions:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            found = _REFUSAL.search(record["prediction"]["answer"] or "")
            if record["prediction"]["status"] != "refused" or found is None:
                continue
            item = items[record["id"]]
            if item.db_url not in agents:
                settings = Settings(db_url=item.db_url, model="fake", checkpointer_url="memory")
                agents[item.db_url] = Agent.from_settings(settings)
            context = agents[item.db_url].context()
            table = next(iter(context.catalog.tables))
            kept: list[str] = []
            for name in found.group(1).split(", "):
                if "(" in name:  # a filtered value the data lacks: another rule, unchanged here
                    kept.append(name)
                    continue
                kept += missing_concepts(
                    f"SELECT x.{name} FROM {table} AS x",  # the name, read as a column the schema lacks
                    item.question,
                    catalog=context.catalog,
                    vocabulary=context.vocabulary,
                    dialect=context.dialect,
                    hint=item.evidence or "",
                )
            kind = "must_refuse" if record["must_refuse"] else "answerable"
            print("KEPT   " if kept else "CHANGED", record["id"], kind, found.group(1), "->", kept)
    for agent in agents.values():
        agent.close()


if __name__ == "__main__":
    main()
