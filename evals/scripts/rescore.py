"""Score stored predictions again with the harness's current comparison rules; no model call.

    python evals/scripts/rescore.py evals/reports/2026-12-04/agent_full.predictions.jsonl --out rescored.jsonl

Each record's prediction is kept as it was; only its score is recomputed (``score_item``) against the gold
on the item's database. Prints, per benchmark, how many items the new rules turn right or wrong, so a
change to the comparison is seen on every stored run, the peer's as much as the agent's.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from nl2sql_agent.evals.loaders import load_benchmarks
from nl2sql_agent.evals.records import EvalRecord
from nl2sql_agent.evals.runner import read_records
from nl2sql_agent.evals.scoring import score_item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("predictions", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    records = read_records(args.predictions)
    sources = sorted({record.source for record in records})
    items = {item.id: item for item in load_benchmarks(sources)}
    changes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    with args.out.open("w", encoding="utf-8") as out:
        for record in records:
            item = items[record.item_id]
            score = score_item(item, record.prediction)
            if score.correct != record.score.correct:
                changes[record.source]["now right" if score.correct else "now wrong"] += 1
                print(("now right " if score.correct else "now wrong ") + record.item_id)
            rescored = EvalRecord.of(item, record.prediction, score)
            out.write(json.dumps(rescored.to_dict()) + "\n")
    for source in sources:
        counts = changes[source]
        print(f"{source}: {counts['now right']} now right, {counts['now wrong']} now wrong")


if __name__ == "__main__":
    main()
