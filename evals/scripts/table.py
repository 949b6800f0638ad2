"""The README results table from finished or partial runs, on the items every run completed.

    python evals/scripts/table.py evals/results/agent_final evals/results/baseline_final [--only spider,bird,defog]
    python evals/scripts/table.py evals/reports/2026-12-04/agent_full.predictions.jsonl ...   # committed runs

Reads each run's ``predictions.jsonl`` (as scored by the harness) and prints one Markdown row per run and
benchmark, with the harness's own metrics (``nl2sql_agent.evals.metrics.group_metrics``, as in its
``report.md``): execution accuracy on answerable items whose gold ran, refusals of must-refuse turns, false
refusals of answerable turns, and tokens, model calls and seconds per item. Only item ids present in every
run are counted, so partial runs compare fairly.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from nl2sql_agent.evals.metrics import group_metrics
from nl2sql_agent.evals.records import EvalRecord
from nl2sql_agent.evals.runner import read_records


def load(run: Path) -> dict[str, EvalRecord]:
    """One run's scored records by item id: a run folder, or a predictions file kept in evals/reports/."""
    return {record.item_id: record for record in read_records(run if run.is_file() else run / "predictions.jsonl")}


def predictor_name(run: Path) -> str:
    """The predictor a run folder's ``run.json`` names, else the file or folder name."""
    run_file = run / "run.json"
    if run_file.is_file():
        return str(json.loads(run_file.read_text())["predictor"])
    return run.name.removesuffix(".jsonl").removesuffix(".predictions")


def row(name: str, benchmark: str, records: list[EvalRecord]) -> str:
    """One Markdown table row of a run's records on one benchmark."""
    metrics = group_metrics(records)
    scored = metrics["answerable"] - metrics["gold_errors"]
    refusal = metrics["refusal"]
    answerable_turns = sum(1 for r in records for turn in r.score.turns if not turn.must_refuse)
    accuracy = f"{metrics['correct']}/{scored} ({100 * metrics['correct'] / scored:.0f}%)" if scored else "-"
    must_refuse = metrics["must_refuse_turns"]
    refused = f"{refusal['true_positive']}/{must_refuse}" if must_refuse else "-"
    false = f"{refusal['false_refusals']}/{answerable_turns}" if answerable_turns else "-"
    return (
        f"| {name} | {benchmark} | {len(records)} | {accuracy} | {refused} | {false} "
        f"| {metrics['tokens_per_question']['mean']:.0f} | {metrics['llm_calls_per_question']:.2f} "
        f"| {metrics['seconds_per_question']['mean']:.1f} |"
    )


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
            if not only or record.source in only:
                by_benchmark[record.source].add(record.item_id)
    print(
        "| predictor | benchmark | items | execution accuracy | refused (must refuse) | false refusals | "
        "tokens/question | model calls/question | seconds/question |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for benchmark, ids in sorted(by_benchmark.items()):
        common = sorted(i for i in ids if all(i in records for records in runs.values()))
        if common:
            for run, records in runs.items():
                print(row(predictor_name(run), benchmark, [records[i] for i in common]))


if __name__ == "__main__":
    main()
