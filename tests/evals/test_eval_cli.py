"""The harness's command line, end to end with a scripted model (``fake:PATH`` model spec)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nl2sql_agent.evals as evals
from nl2sql_agent.evals.cli import main
from nl2sql_agent.evals.report import load_report
from nl2sql_agent.evals.subsets import read_subset


def test_public_names_exist() -> None:
    assert all(hasattr(evals, name) for name in evals.__all__)
    assert sorted(evals.__all__) == sorted(set(evals.__all__))


def test_eval_run_with_a_scripted_model(bench_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "model.json"
    script.write_text(json.dumps({"rules": [{"role": "sql", "reply": "SELECT count(*) FROM singer"}]}))
    subset = tmp_path / "two.json"
    subset.write_text(json.dumps({"ids": ["spider:concert_singer:0", "spider:concert_singer:2"]}))
    out = tmp_path / "run"
    args = ["-b", "spider", "--subset", str(subset), "--model", f"fake:{script}", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert "| nl2sql-agent/fake:" in capsys.readouterr().out
    (report,) = load_report(out)
    # Item 0 asks for the singer count (right); item 2 for names and countries (wrong).
    assert report["overall"]["correct"] == 1 and report["overall"]["items"] == 2
    assert report["run"]["use_evidence"] is True
    assert main([*args, "--no-evidence"]) == 0  # resumes: nothing left to predict
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 2


def test_compare_and_write_subset(bench_root: Path, tmp_path: Path, evals_cache: Path) -> None:
    target = tmp_path / "dev.json"
    assert main(["-b", "bird", "--write-subset", str(target), "--cache-dir", str(evals_cache)]) == 0
    assert len(read_subset(target)) == 80
    missing = tmp_path / "none"
    with pytest.raises(FileNotFoundError):
        main(["--compare", str(missing), "--out", str(tmp_path / "cmp")])
