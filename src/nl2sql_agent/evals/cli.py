"""Command-line entry of the harness: ``add_eval_arguments`` for an ``nl2sql eval`` subcommand, and ``main``.

Examples::

    nl2sql eval --subset dev --predictor agent --model local          # the agent on the dev subset
    nl2sql eval --subset dev --predictor baseline                      # LangChain's SQL chain, same model
    nl2sql eval --benchmark spider --subset full --limit 20 --no-evidence
    nl2sql eval -b defog --subset full --postgres postgresql://postgres@127.0.0.1:5432/postgres   # on PostgreSQL
    nl2sql eval --compare evals/results/agent_dev evals/results/baseline_dev --out evals/results/compare
    nl2sql eval --write-subset evals/subsets/dev.json                  # regenerate the fixed dev subset
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nl2sql_agent.errors import ConfigurationError
from nl2sql_agent.evals.loaders import BENCHMARKS, evals_dir, load_benchmarks
from nl2sql_agent.evals.metrics import Prices
from nl2sql_agent.evals.prediction import Predictor

DEFAULT_BENCHMARKS = ("spider", "bird", "defog", "sample", "offtopic")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the harness's options to ``parser`` (a subcommand parser); run them with :func:`run_from_args`."""
    parser.add_argument(
        "--benchmark",
        "-b",
        action="append",
        choices=BENCHMARKS,
        dest="benchmarks",
        help=f"benchmark to run (repeatable; default: {', '.join(DEFAULT_BENCHMARKS)})",
    )
    parser.add_argument(
        "--subset",
        default="dev",
        help="a subset named in evals/subsets/ ('dev', 'final'), 'full' (everything runnable) or a file path",
    )
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N selected items")
    parser.add_argument(
        "--predictor",
        choices=("agent", "baseline"),
        default="agent",
        help="the nl2sql agent, or LangChain's create_sql_query_chain baseline (needs the evals extra)",
    )
    parser.add_argument("--model", default=None, help="agent model spec (default: NL2SQL_MODEL / 'local')")
    parser.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint (default: the local server)")
    parser.add_argument("--no-evidence", action="store_true", help="do not pass BIRD evidence / defog instructions")
    parser.add_argument(
        "--out", type=Path, default=None, help="run folder (default: evals/results/<predictor>_<subset>)"
    )
    parser.add_argument("--no-resume", action="store_true", help="start over instead of skipping items already done")
    parser.add_argument("--workers", type=int, default=1, help="items predicted concurrently")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per gold/predicted query when scoring")
    parser.add_argument("--price-in", type=float, default=0.0, help="USD per million input tokens (cost columns)")
    parser.add_argument("--price-out", type=float, default=0.0, help="USD per million output tokens")
    parser.add_argument("--bench-dir", type=Path, default=None, help="shared benchmark folder ($NL2SQL_BENCH_DIR)")
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="run on PostgreSQL instead of the SQLite files: each benchmark database is loaded once into the server "
        "at URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres) and gold runs in PostgreSQL's dialect",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="where rebuilt databases go")
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        default=None,
        metavar="RUN_DIR",
        help="write one report comparing finished runs (into --out) instead of running",
    )
    parser.add_argument(
        "--write-subset",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the stratified dev subset of the selected benchmarks to PATH and exit",
    )


def _say(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")


def _make_predictor(args: argparse.Namespace) -> Predictor:
    use_evidence = not args.no_evidence
    if args.predictor == "baseline":
        from nl2sql_agent.evals.baseline import LOCAL_BASE_URL, LOCAL_MODEL, SqlQueryChainPredictor, local_chat_model

        model_name = args.model or LOCAL_MODEL
        base_url = args.base_url or LOCAL_BASE_URL
        return SqlQueryChainPredictor(
            llm_factory=lambda: local_chat_model(base_url, model_name),
            use_evidence=use_evidence,
            name=f"langchain-sql-query-chain/{model_name}",
        )
    from nl2sql_agent.evals.agent_predictor import AgentPredictor, eval_settings_factory

    overrides = {key: value for key, value in (("model", args.model), ("base_url", args.base_url)) if value}
    return AgentPredictor(eval_settings_factory(**overrides), use_evidence=use_evidence)


def run_from_args(args: argparse.Namespace) -> int:
    """Run what the parsed options ask for; returns the process exit code."""
    from nl2sql_agent.evals.report import load_report, write_reports
    from nl2sql_agent.evals.runner import run_eval
    from nl2sql_agent.evals.subsets import read_subset, select, stratified_ids, write_subset

    if args.compare:
        out = args.out or evals_dir() / "results" / "compare"
        reports = [report for folder in args.compare for report in load_report(folder)]
        paths = write_reports(reports, out)
        _say(f"wrote {paths['md']} and {paths['html']}")
        return 0
    items = load_benchmarks(args.benchmarks or DEFAULT_BENCHMARKS, root=args.bench_dir, cache_dir=args.cache_dir)
    if args.write_subset:
        ids = stratified_ids(items)
        write_subset(
            args.write_subset,
            args.write_subset.stem,
            ids,
            description="Stratified by benchmark, database and difficulty; see nl2sql_agent.evals.subsets.",
        )
        _say(f"wrote {len(ids)} ids to {args.write_subset}")
        return 0
    if args.subset != "full":
        named = evals_dir() / "subsets" / f"{args.subset}.json"
        subset_path = named if named.is_file() else Path(args.subset)
        if not subset_path.is_file():
            raise ConfigurationError(f"no subset {args.subset!r}: name one in {named.parent} or give a file path")
        items = select(items, read_subset(subset_path))
    if args.limit is not None:
        items = items[: args.limit]
    if not items:
        sys.stderr.write("no items selected\n")
        return 2
    if args.postgres:
        from nl2sql_agent.evals.postgres import on_postgres

        items = on_postgres(items, args.postgres, root=args.bench_dir)
    predictor = _make_predictor(args)
    subset_name = Path(args.subset).stem
    out = args.out or evals_dir() / "results" / f"{args.predictor}_{subset_name}"
    try:
        run = run_eval(
            items,
            predictor,
            out_dir=out,
            resume=not args.no_resume,
            workers=args.workers,
            progress=not args.no_progress,
            timeout_s=args.timeout,
            prices=Prices(args.price_in, args.price_out),
        )
    finally:
        close = getattr(predictor, "close", None)
        if close is not None:
            close()
    _say((run.out_dir / "report.md").read_text(encoding="utf-8"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nl2sql_agent.evals`` (and the body of ``nl2sql eval``)."""
    parser = argparse.ArgumentParser(prog="nl2sql eval", description="Execution-accuracy evaluation harness.")
    add_eval_arguments(parser)
    return run_from_args(parser.parse_args(argv))
