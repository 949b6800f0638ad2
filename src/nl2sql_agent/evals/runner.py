"""Run a predictor over items, writing scored predictions as they come, resumable after a crash."""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nl2sql_agent.evals.execution import DEFAULT_TIMEOUT_S
from nl2sql_agent.evals.items import BenchItem
from nl2sql_agent.evals.metrics import Prices, summarize
from nl2sql_agent.evals.prediction import HARNESS_EXCEPTION, Prediction, Predictor
from nl2sql_agent.evals.records import EvalRecord
from nl2sql_agent.evals.scoring import score_item

PREDICTIONS_FILE = "predictions.jsonl"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class EvalRun:
    """What :func:`run_eval` produced."""

    out_dir: Path
    records: list[EvalRecord]
    """Every record of the run, resumed ones included, in item order."""
    report: dict[str, Any]
    """The JSON report (also written to ``out_dir/report.json``)."""


def read_records(path: str | Path) -> list[EvalRecord]:
    """Records of a predictions file; a torn last line (a crash mid-write) is ignored."""
    records: list[EvalRecord] = []
    file = Path(path)
    if not file.is_file():
        return records
    for line in file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(EvalRecord.from_dict(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return records


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a crash left without its newline, so appends start on a fresh line."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


class _Progress:
    """tqdm when it is installed, else one updating stderr line."""

    def __init__(self, total: int, initial: int, enabled: bool, label: str) -> None:
        self._bar: Any = None
        self._done = initial
        self._total = total
        self._correct = 0
        self._enabled = enabled
        self._label = label
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=total, initial=initial, desc=label, unit="q", file=sys.stderr, dynamic_ncols=True)

    def advance(self, correct: bool) -> None:
        self._done += 1
        self._correct += int(correct)
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix(correct=self._correct, refresh=False)
            self._bar.update(1)
        else:
            sys.stderr.write(f"\r{self._label}: {self._done}/{self._total} ({self._correct} correct this session)")
            sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._enabled:
            sys.stderr.write("\n")


def _predict_and_score(predictor: Predictor, item: BenchItem, timeout_s: float) -> EvalRecord:
    started = time.monotonic()
    try:
        prediction = predictor.predict(item)
    except Exception as error:  # a predictor bug must cost one item, not the run
        prediction = Prediction("error", error_code=HARNESS_EXCEPTION, error_message=f"{type(error).__name__}: {error}")
    if prediction.seconds <= 0:
        prediction = replace(prediction, seconds=time.monotonic() - started)
    return EvalRecord.of(item, prediction, score_item(item, prediction, timeout_s=timeout_s))


def run_eval(
    items: Sequence[BenchItem],
    predictor: Predictor,
    *,
    out_dir: str | Path,
    resume: bool = True,
    workers: int = 1,
    progress: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    prices: Prices | None = None,
    on_record: Callable[[EvalRecord], None] | None = None,
) -> EvalRun:
    """Predict and score every item, appending each record to ``out_dir/predictions.jsonl`` at once.

    Args:
        items: What to evaluate; ids must be unique.
        predictor: Turns an item into a prediction (see :class:`~.prediction.Predictor`).
        out_dir: Run folder: ``predictions.jsonl``, ``run.json`` and the reports go there.
        resume: Keep the records already in ``predictions.jsonl`` and skip their items; ``False`` starts over.
        workers: Items predicted concurrently (threads).
        progress: Show a progress bar on stderr.
        timeout_s: Time limit for each gold or predicted query when scoring.
        prices: USD per million input/output tokens, for the cost columns (default: free).
        on_record: Called with each new record (e.g. to log it).

    Returns:
        The records (resumed and new, in item order) and the report, which is also written to
        ``report.json``, ``report.md`` and ``report.html`` in ``out_dir``.
    """
    from nl2sql_agent.evals.report import write_reports

    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("item ids must be unique")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    predictions_path = folder / PREDICTIONS_FILE
    if resume:
        _drop_torn_tail(predictions_path)
    else:
        predictions_path.write_text("", encoding="utf-8")
    wanted = set(ids)
    done = {record.item_id: record for record in read_records(predictions_path) if record.item_id in wanted}
    pending = [item for item in items if item.id not in done]
    meta = _run_meta(predictor, items, workers, timeout_s, prices)
    (folder / RUN_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    lock = threading.Lock()
    bar = _Progress(len(items), len(done), progress, getattr(predictor, "name", "eval"))
    with predictions_path.open("a", encoding="utf-8") as sink:

        def keep(record: EvalRecord) -> None:
            with lock:
                sink.write(json.dumps(record.to_dict(), ensure_ascii=False, default=str) + "\n")
                sink.flush()
                done[record.item_id] = record
                bar.advance(record.score.correct)
            if on_record is not None:
                on_record(record)

        try:
            if workers <= 1:
                for item in pending:
                    keep(_predict_and_score(predictor, item, timeout_s))
            else:
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nl2sql-eval") as pool:
                    futures = [pool.submit(_predict_and_score, predictor, item, timeout_s) for item in pending]
                    for future in as_completed(futures):
                        keep(future.result())
        finally:
            bar.close()

    records = [done[item.id] for item in items]
    meta["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    (folder / RUN_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    report = summarize(records, meta=meta, prices=prices)
    write_reports([report], folder)
    return EvalRun(folder, records, report)


def _run_meta(
    predictor: Predictor, items: Iterable[BenchItem], workers: int, timeout_s: float, prices: Prices | None
) -> dict[str, Any]:
    from nl2sql_agent._version import __version__

    item_list = list(items)
    return {
        "predictor": getattr(predictor, "name", type(predictor).__name__),
        "use_evidence": bool(getattr(predictor, "use_evidence", False)),
        "items": len(item_list),
        "sources": sorted({item.source for item in item_list}),
        "engine": "postgres" if any(item.server_url for item in item_list) else "sqlite",
        "workers": workers,
        "query_timeout_s": timeout_s,
        "prices_usd_per_mtok": None if prices is None else {"input": prices.input, "output": prices.output},
        "nl2sql_agent_version": __version__,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run_day": dt.date.today().isoformat(),
    }
