"""The ``nl2sql`` command line: JSON output, one-line errors, exit codes, memory across separate runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nl2sql_agent.cli import main


@pytest.fixture
def fake_script(tmp_path: Path) -> Path:
    path = tmp_path / "fake.json"
    path.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "role": "sql",
                        "when": "and in 2023",
                        "reply": "SELECT COUNT(*) AS n FROM sales WHERE strftime('%Y', sale_date) = '2023'",
                    },
                    {
                        "role": "sql",
                        "when": "sales in 2024",
                        "reply": "SELECT COUNT(*) AS n FROM sales WHERE strftime('%Y', sale_date) = '2024'",
                    },
                    {"role": "sql", "when": "broken", "reply": "SELECT missing_column FROM sales"},
                    {"role": "answer", "reply": "Here is the count."},
                ]
            }
        )
    )
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["ask", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_ask_json_has_the_documented_shape(
    capsys: pytest.CaptureFixture[str], fake_script: Path, sample_db_url: str
) -> None:
    code, data = run_json(capsys, "How many sales in 2024?", "--db", sample_db_url, "--model", f"fake:{fake_script}")
    assert code == 0
    assert data["status"] == "answered"
    assert data["sql"].upper().startswith("SELECT COUNT(*) AS") and "sales" in data["sql"]
    assert data["columns"] == ["n"] and isinstance(data["rows"][0][0], int)
    assert data["error"] is None
    assert set(data["usage"]) >= {"input_tokens", "output_tokens", "llm_calls"}
    assert data["usage"]["llm_calls"] == 2
    assert "draft_sql" in data["timings_ms"]


def test_thread_memory_spans_separate_cli_runs(
    capsys: pytest.CaptureFixture[str], fake_script: Path, sample_db_url: str
) -> None:
    common = ["--db", sample_db_url, "--model", f"fake:{fake_script}", "--thread", "cli-thread"]
    assert run_json(capsys, "How many sales in 2024?", *common)[0] == 0
    code, data = run_json(capsys, "and in 2023?", *common)
    assert code == 0 and "'2023'" in data["sql"]


def test_failure_is_one_line_and_non_zero(
    capsys: pytest.CaptureFixture[str], fake_script: Path, sample_db_url: str
) -> None:
    code = main(["ask", "a broken question about sales", "--db", sample_db_url, "--model", f"fake:{fake_script}"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("error[sql_validation]:") and "\n" not in err and "Traceback" not in err


def test_failure_in_json_mode_is_an_error_object(
    capsys: pytest.CaptureFixture[str], fake_script: Path, sample_db_url: str
) -> None:
    code, data = run_json(
        capsys, "a broken question about sales", "--db", sample_db_url, "--model", f"fake:{fake_script}"
    )
    assert code != 0 and data["status"] == "error"
    assert data["error"]["code"] == "sql_validation" and data["usage"]["llm_calls"] == 2  # the draft and its one repair


@pytest.mark.parametrize(
    ("argv", "code_name"),
    [
        (["", "--model", "fake"], "invalid_question"),
        (["q?", "--db", "mysql://nope/db", "--model", "fake"], "configuration"),
        (["q?", "--db", "sqlite:////nonexistent/dir/x.sqlite", "--model", "fake"], "database_unavailable"),
        (["q?", "--db", "postgresql://postgres@127.0.0.1:9/x", "--model", "fake"], "database_unavailable"),
        (["q?", "--model", "nonsense"], "configuration"),
        (["q?", "--model", "fake:/nonexistent/script.json"], "configuration"),
    ],
)
def test_bad_inputs_get_one_line_errors(
    capsys: pytest.CaptureFixture[str], sample_db_url: str, argv: list[str], code_name: str
) -> None:
    if "--db" not in argv:
        argv = [*argv, "--db", sample_db_url]
    code = main(["ask", *argv])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith(f"error[{code_name}]:"), err
    assert "\n" not in err


def test_model_endpoint_down_is_a_typed_error(capsys: pytest.CaptureFixture[str], sample_db_url: str) -> None:
    code = main(
        [
            "ask",
            "How many customers do we have?",
            "--db",
            sample_db_url,
            "--model",
            "local",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.startswith("error[model_unavailable]:")


def test_console_script_runs(fake_script: Path, sample_db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "NL2SQL_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nl2sql_agent.cli",
            "ask",
            "How many sales in 2024?",
            "--db",
            sample_db_url,
            "--model",
            f"fake:{fake_script}",
            "--progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "SQL: SELECT COUNT(*)" in done.stdout
    assert "draft_sql" in done.stderr  # progress per graph step


def test_graph_command_prints_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph"]) == 0
    assert "draft_sql" in capsys.readouterr().out
