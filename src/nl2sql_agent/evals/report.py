"""Write a run's (or several runs') report: JSON, a Markdown summary table and an HTML page with charts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from nl2sql_agent.evals.svg import grouped_bars, histogram

SUMMARY_HEADERS = (
    "Model",
    "Benchmark",
    "Evidence",
    "Items",
    "Exec. acc.",
    "Refusal P",
    "Refusal R",
    "False refusals",
    "Unsafe blocked",
    "Tokens/q",
    "s/q",
    "Cost/q (USD)",
)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _model(report: dict[str, Any]) -> str:
    return str(report.get("run", {}).get("predictor", "?"))


def _summary_row(report: dict[str, Any], benchmark: str, group: dict[str, Any]) -> list[str]:
    refusal = group["refusal"]
    return [
        _model(report),
        benchmark,
        "yes" if report.get("run", {}).get("use_evidence") else "no",
        str(group["items"]),
        _pct(group["execution_accuracy"]),
        _pct(refusal["precision"]),
        _pct(refusal["recall"]),
        f"{refusal['false_refusals']} ({_pct(refusal['false_refusal_rate'])})",
        str(group["blocked_unsafe"]),
        _num(group["tokens_per_question"]["mean"], 0),
        _num(group["seconds_per_question"]["mean"], 2),
        _num(group["cost_usd_per_question"], 5),
    ]


def summary_rows(reports: Sequence[dict[str, Any]]) -> list[list[str]]:
    """One row per model and benchmark, then the model's overall row."""
    rows: list[list[str]] = []
    for report in reports:
        for source, group in report["by_source"].items():
            rows.append(_summary_row(report, source, group))
        if len(report["by_source"]) > 1:
            rows.append(_summary_row(report, "all", report["overall"]))
    return rows


def difficulty_rows(reports: Sequence[dict[str, Any]]) -> list[list[str]]:
    """One row per model, benchmark and difficulty level."""
    rows: list[list[str]] = []
    for report in reports:
        for source, group in report["by_source"].items():
            for level, cell in group["by_difficulty"].items():
                rows.append([_model(report), source, level, str(cell["items"]), _pct(cell["execution_accuracy"])])
    return rows


def multi_turn_rows(reports: Sequence[dict[str, Any]]) -> list[list[str]]:
    """One row per model with multi-turn items."""
    rows: list[list[str]] = []
    for report in reports:
        multi = report.get("multi_turn")
        if not multi:
            continue
        per_turn = ", ".join(f"t{k}: {_pct(v)}" for k, v in multi["per_turn_accuracy"].items())
        rows.append([_model(report), str(multi["threads"]), per_turn, _pct(multi["all_turns_correct"])])
    return rows


def _markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def render_markdown(reports: Sequence[dict[str, Any]]) -> str:
    """The Markdown summary: main table, accuracy by difficulty and, when present, multi-turn scores."""
    parts = ["## Execution accuracy", "", _markdown_table(SUMMARY_HEADERS, summary_rows(reports)), ""]
    parts += [
        "### By difficulty",
        "",
        _markdown_table(("Model", "Benchmark", "Difficulty", "Items", "Exec. acc."), difficulty_rows(reports)),
        "",
    ]
    multi = multi_turn_rows(reports)
    if multi:
        parts += [
            "### Multi-turn",
            "",
            _markdown_table(("Model", "Threads", "Accuracy per turn", "All turns correct"), multi),
            "",
        ]
    parts.append(
        "Exec. acc. is over answerable items whose gold ran; refusal precision/recall count refused "
        "must-refuse questions as true positives and refused answerable ones as false refusals. "
        "Samples of the public benchmarks: not comparable with published full-set numbers."
    )
    return "\n".join(parts) + "\n"


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _difficulty_chart(reports: Sequence[dict[str, Any]]) -> str:
    categories: list[str] = []
    for report in reports:
        for source, group in report["by_source"].items():
            for level in group["by_difficulty"]:
                label = f"{source}/{level}"
                if label not in categories:
                    categories.append(label)
    series: dict[str, list[float | None]] = {}
    for report in reports:
        values: list[float | None] = []
        for label in categories:
            source, _, level = label.partition("/")
            cell = report["by_source"].get(source, {}).get("by_difficulty", {}).get(level)
            values.append(None if cell is None else cell["execution_accuracy"])
        series[_model(report)] = values
    return grouped_bars("Execution accuracy by benchmark and difficulty", categories, series)


def render_html(reports: Sequence[dict[str, Any]]) -> str:
    """A self-contained HTML page: the tables plus SVG charts of accuracy, tokens and latency."""
    tokens = {_model(r): [float(v) for v in r["distributions"]["tokens"]] for r in reports}
    seconds = {_model(r): [float(v) for v in r["distributions"]["seconds"]] for r in reports}
    multi = multi_turn_rows(reports)
    runs = "".join(f"<li><code>{escape(json.dumps(r.get('run', {}), sort_keys=True))}</code></li>" for r in reports)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nl2sql-agent evaluation</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th:first-child, td:first-child, td:nth-child(2) {{ text-align: left; }}
.charts svg {{ margin: 0.5em 1em 0.5em 0; vertical-align: top; }}
code {{ font-size: 0.8em; }}
</style></head><body>
<h1>nl2sql-agent evaluation</h1>
<h2>Summary</h2>
{_html_table(SUMMARY_HEADERS, summary_rows(reports))}
<div class="charts">
{_difficulty_chart(reports)}
{histogram("Tokens per question", tokens, x_label="tokens (input + output)")}
{histogram("Seconds per question", seconds, x_label="seconds")}
</div>
<h2>By difficulty</h2>
{_html_table(("Model", "Benchmark", "Difficulty", "Items", "Exec. acc."), difficulty_rows(reports))}
{
        "<h2>Multi-turn</h2>" + _html_table(("Model", "Threads", "Accuracy per turn", "All turns correct"), multi)
        if multi
        else ""
    }
<h2>Runs</h2><ul>{runs}</ul>
</body></html>
"""


def write_reports(reports: Sequence[dict[str, Any]], folder: str | Path, *, stem: str = "report") -> dict[str, Path]:
    """Write ``<stem>.json`` (one report, or a list of them), ``<stem>.md`` and ``<stem>.html`` into ``folder``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = {kind: target / f"{stem}.{kind}" for kind in ("json", "md", "html")}
    payload: Any = reports[0] if len(reports) == 1 else list(reports)
    paths["json"].write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    paths["md"].write_text(render_markdown(reports), encoding="utf-8")
    paths["html"].write_text(render_html(reports), encoding="utf-8")
    return paths


def load_report(path: str | Path) -> list[dict[str, Any]]:
    """The report(s) in a ``report.json`` file, or in a run folder's ``report.json``."""
    file = Path(path)
    if file.is_dir():
        file = file / "report.json"
    data = json.loads(file.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]
