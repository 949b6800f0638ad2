"""The runner: JSONL written as it goes, resume after a crash, workers, predictor failures, reports."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from nl2sql_agent.evals.items import BenchItem
from nl2sql_agent.evals.prediction import HARNESS_EXCEPTION, Prediction
from nl2sql_agent.evals.report import load_report, render_markdown, write_reports
from nl2sql_agent.evals.runner import PREDICTIONS_FILE, read_records, run_eval


def make_items(db: Path, count: int = 10) -> list[BenchItem]:
    return [
        BenchItem(
            id=f"tiny:{n}",
            source="tiny",
            db_id="tiny",
            db_path=str(db),
            question=f"q{n}",
            gold_sql=f"SELECT COUNT(*) FROM city WHERE id <= {n}",
            difficulty="easy" if n % 2 else "hard",
        )
        for n in range(count)
    ]


class ScriptedPredictor:
    """Answers item n with gold-equivalent SQL; remembers which items it was asked."""

    name = "scripted"
    use_evidence = False

    def __init__(self, fail_on: set[str] | None = None, crash_after: int | None = None) -> None:
        self.asked: list[str] = []
        self.fail_on = fail_on or set()
        self.crash_after = crash_after
        self._lock = threading.Lock()

    def predict(self, item: BenchItem) -> Prediction:
        with self._lock:
            if self.crash_after is not None and len(self.asked) >= self.crash_after:
                raise KeyboardInterrupt  # a crash that no handler swallows, like a killed process
            self.asked.append(item.id)
        if item.id in self.fail_on:
            raise RuntimeError("predictor bug")
        n = int(item.id.split(":")[1])
        return Prediction("answered", sql=f"SELECT {min(n, 5)}")


def test_predictions_are_written_and_scored(tiny_db: Path, tmp_path: Path) -> None:
    items = make_items(tiny_db)
    run = run_eval(items, ScriptedPredictor(), out_dir=tmp_path, progress=False)
    lines = (tmp_path / PREDICTIONS_FILE).read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [item.id for item in items]
    assert all(record.score.correct for record in run.records)
    assert run.report["overall"]["execution_accuracy"] == 1.0
    assert {p.name for p in tmp_path.iterdir()} >= {
        "predictions.jsonl",
        "run.json",
        "report.json",
        "report.md",
        "report.html",
    }


def test_resume_after_a_crash_skips_done_items(tiny_db: Path, tmp_path: Path) -> None:
    items = make_items(tiny_db)
    with pytest.raises(KeyboardInterrupt):
        run_eval(items, ScriptedPredictor(crash_after=5), out_dir=tmp_path, progress=False)
    path = tmp_path / PREDICTIONS_FILE
    assert len(read_records(path)) == 5
    # The crash also tore the line being written.
    with path.open("a") as handle:
        handle.write('{"id": "tiny:5", "source": "ti')
    second = ScriptedPredictor()
    run = run_eval(items, second, out_dir=tmp_path, progress=False)
    assert second.asked == [item.id for item in items[5:]]
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert sorted(ids) == sorted(item.id for item in items)  # every item once, no torn line left
    assert [record.item_id for record in run.records] == [item.id for item in items]
    assert run.report["overall"]["items"] == 10


def test_no_resume_starts_over(tiny_db: Path, tmp_path: Path) -> None:
    items = make_items(tiny_db, 3)
    run_eval(items, ScriptedPredictor(), out_dir=tmp_path, progress=False)
    again = ScriptedPredictor()
    run_eval(items, again, out_dir=tmp_path, progress=False, resume=False)
    assert len(again.asked) == 3
    assert len((tmp_path / PREDICTIONS_FILE).read_text().splitlines()) == 3


def test_workers_give_the_same_records(tiny_db: Path, tmp_path: Path) -> None:
    items = make_items(tiny_db)
    serial = run_eval(items, ScriptedPredictor(), out_dir=tmp_path / "serial", progress=False)
    parallel = run_eval(items, ScriptedPredictor(), out_dir=tmp_path / "parallel", progress=False, workers=3)
    assert [r.score.correct for r in parallel.records] == [r.score.correct for r in serial.records]
    assert [r.item_id for r in parallel.records] == [r.item_id for r in serial.records]


def test_a_raising_predictor_costs_one_item(tiny_db: Path, tmp_path: Path) -> None:
    items = make_items(tiny_db, 4)
    run = run_eval(items, ScriptedPredictor(fail_on={"tiny:2"}), out_dir=tmp_path, progress=False)
    failed = next(r for r in run.records if r.item_id == "tiny:2")
    assert failed.prediction.error_code == HARNESS_EXCEPTION and not failed.score.correct
    assert sum(r.score.correct for r in run.records) == 3
    assert run.report["overall"]["prediction_errors"] == {HARNESS_EXCEPTION: 1}


def test_duplicate_ids_are_rejected(tiny_db: Path, tmp_path: Path) -> None:
    items = make_items(tiny_db, 2)
    with pytest.raises(ValueError, match="unique"):
        run_eval(items + items[:1], ScriptedPredictor(), out_dir=tmp_path, progress=False)


def test_reports_compare_several_runs(tiny_db: Path, tmp_path: Path) -> None:
    items = make_items(tiny_db, 4)
    first = run_eval(items, ScriptedPredictor(), out_dir=tmp_path / "a", progress=False)
    loaded = load_report(tmp_path / "a")
    assert loaded == [json.loads(json.dumps(first.report))]
    other = {**loaded[0], "run": {**loaded[0]["run"], "predictor": "other-model"}}
    paths = write_reports([loaded[0], other], tmp_path / "compare")
    markdown = paths["md"].read_text()
    assert "| scripted | tiny | no | 4 | 100.0% |" in markdown
    assert "| other-model | tiny |" in markdown
    assert markdown == render_markdown([loaded[0], other])
    html = paths["html"].read_text()
    assert html.count("<svg") == 3 and "Execution accuracy by benchmark and difficulty" in html
    assert "other-model" in html
