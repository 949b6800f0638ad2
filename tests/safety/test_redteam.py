"""The shared red-team corpus: every attack blocked, every legitimate query allowed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from redteam_shop import CORPUS, REDTEAM_DIR, shop_catalog, shop_policy

from nl2sql_agent.errors import SQLValidationError, UnsafeSQLError
from nl2sql_agent.safety import validate_sql

pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason=f"red-team corpus not found at {CORPUS}")


def _cases() -> list[dict[str, Any]]:
    if not CORPUS.exists():
        return []
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


CASES = _cases()


def _run(case: dict[str, Any], *, with_catalog: bool) -> Exception | None:
    dialect = case["dialect"]
    kwargs: dict[str, Any] = {}
    if with_catalog:
        kwargs = {"catalog": shop_catalog(dialect), "policy": shop_policy(dialect)}
    try:
        validate_sql(case["sql"], dialect=dialect, **kwargs)
    except (UnsafeSQLError, SQLValidationError) as error:
        return error
    return None


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    # Only the allowlist cases need to know which tables are off limits; the rest must be caught by
    # structure alone.
    error = _run(case, with_catalog=case["category"] == "allowlist")
    if case["expect"] == "block":
        assert error is not None, f"{case['id']} was allowed: {case['why']}"
    else:
        assert error is None, f"{case['id']} was blocked: {error}"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case_with_catalog(case: dict[str, Any]) -> None:
    error = _run(case, with_catalog=True)
    assert (error is not None) == (case["expect"] == "block"), error


def test_attacks_are_refused_as_unsafe_not_as_typos() -> None:
    # A syntax error is an acceptable block only for statements sqlglot cannot parse at all.
    parsed_attacks = [c for c in CASES if c["expect"] == "block" and c["id"] not in {"pg-set-11"}]
    misfiled = []
    for case in parsed_attacks:
        error = _run(case, with_catalog=True)
        if not isinstance(error, UnsafeSQLError):
            misfiled.append((case["id"], repr(error)))
    assert not misfiled


def test_check_validator_reports_no_false_accept_or_block(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    adapter = Path(__file__).with_name("redteam_shop.py")
    result = subprocess.run(
        [
            sys.executable,
            str(REDTEAM_DIR / "check_validator.py"),
            f"{adapter}:validate_shop",
            "--strict",
            "--block-exc",
            "UnsafeSQLError,SQLValidationError",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(report.read_text())["summary"]
    assert summary["entries"] == len(CASES)
    assert (summary["false_accepts"], summary["false_blocks"], summary["crashes_or_timeouts"]) == (0, 0, 0)
