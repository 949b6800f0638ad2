"""The README results table from finished or partial runs, on the items every run completed.

    python evals/scripts/table.py evals/results/agent_final evals/results/baseline_final [--only spider,bird,defog]
    python evals/scripts/table.py evals/reports/2026-11-25h/agent_dev.predictions.jsonl ...   # committed runs

Reads each run's ``predictions.jsonl`` (as scored by the harness) and prints one Markdown row per run and
benchmark: execution accuracy on answerable items, refusal recall on must-refuse items and false refusals
on answerable ones, tokens, model calls and seconds per question. Only item ids present in every run are counted, so
partial runs compare fairly.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any


def load(run: Path) -> dict[str, dict[str, Any]]:
    """One run's scored records by item id: a run folder, or a predictions file kept in evals/reports/."""
    records = {}
    for line in (run if run.is_file() else run / "predictions.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            records[record["id"]] = record
    return records


def predictor_name(run: Path) -> str:
    """The predictor a run folder's ``run.json`` names, else the file or folder name."""
    run_file = run / "run.json"
    if run_file.is_file():
        return str(json.loads(run_file.read_text())["predictor"])
    return run.name.removesuffix(".jsonl").removesuffix(".predictions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--only", default="", help="comma-separated benchmarks to include")
    args = parser.parse_args()
    runs = {run: load(run) for run in args.runs}
    only = {b for b in args.only.split(",") if b}
    by_benchmark: dict[str, set[str]] = defaultdict(set)
    for records in runs.values():
        for record in records.values():
            if not only or record["source"] in only:
                by_benchmark[record["source"]].add(record["id"])
    print(
        "| predictor | benchmark | items | execution accuracy | refused (must refuse) | false refusals | "
        "tokens/question | model calls/question | seconds/question |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for benchmark, ids in sorted(by_benchmark.items()):
        common = sorted(i for i in ids if all(i in records for records in runs.values()))
        if not common:
            continue
        for run, records in runs.items():
            items = [records[i] for i in common]
            answerable = [r for r in items if not r["must_refuse"]]
            refusable = [r for r in items if r["must_refuse"]]
            correct = sum(bool(r["score"]["correct"]) for r in answerable)
            refused = sum(r["prediction"]["status"] == "refused" for r in refusable)
            false_refusals = sum(r["prediction"]["status"] == "refused" for r in answerable)
            tokens = sum(
                r["prediction"]["usage"]["input_tokens"] + r["prediction"]["usage"]["output_tokens"] for r in items
            ) / len(items)
            calls = sum(r["prediction"]["usage"]["llm_calls"] for r in items) / len(items)
            seconds = sum(r["prediction"]["seconds"] for r in items) / len(items)
            accuracy = f"{correct}/{len(answerable)} ({100 * correct / len(answerable):.0f}%)" if answerable else "-"
            refusal = f"{refused}/{len(refusable)}" if refusable else "-"
            false = f"{false_refusals}/{len(answerable)}" if answerable else "-"
            name = predictor_name(run)
            print(
                f"| {name} | {benchmark} | {len(items)} | {accuracy} | {refusal} | {false} | {tokens:.0f} "
                f"| {calls:.2f} | {seconds:.1f} |"
            )


if __name__ == "__main__":
    main()
