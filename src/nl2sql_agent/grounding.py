"""Answers grounded in rows: a deterministic rendering, and a check that a model's answer invents no numbers."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from typing import Any

from nl2sql_agent.lexicon import stems, stems_of

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
TABLE_ROWS = 20
_UNITS = stems(
    "ton tonne kilogram kg gram pound lb lbs ounce oz mile km kilometer kilometre meter metre feet foot ft inch "
    "cm mm liter litre gallon mph kph celsius fahrenheit kwh watt calorie acre hectare"
)
"""Units of measure a reply may dress a bare number in ("4.15 pounds" for an average of ids): only those
the question, the query or the schema names are grounded. Currencies and durations are left out: a
price column's "$" and a date difference's "days" are how people read them."""


def format_value(value: Any) -> str:
    """A cell as a person would read it: floats rounded to 2 places, thousands kept plain."""
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.2f}" if not value.is_integer() else str(int(value))
    return str(value)


def render_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, limit: int = TABLE_ROWS) -> str:
    """A small pipe table of the first ``limit`` rows (fenced as data by the prompt)."""
    lines = [" | ".join(columns)]
    lines += [" | ".join(format_value(v) for v in row) for row in rows[:limit]]
    return "\n".join(lines)


def template_answer(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, truncated: bool) -> str:
    """A plain answer built from the rows alone; used without a model or when a model's answer is not grounded."""
    if not rows:
        return "No rows matched the question."
    if len(rows) == 1 and len(columns) == 1:
        return f"The result is {format_value(rows[0][0])} ({columns[0]})."
    if len(rows) == 1:
        pairs = zip(columns, rows[0], strict=False)
        return "The result is " + ", ".join(f"{c} = {format_value(v)}" for c, v in pairs) + "."
    shown = rows[:5]
    items = "; ".join(", ".join(format_value(v) for v in row) for row in shown)
    more = f" (first {len(shown)} shown)" if len(rows) > len(shown) or truncated else ""
    count = f"{len(rows)}{'+' if truncated else ''}"
    return f"Found {count} rows ({', '.join(columns)}){more}: {items}."


def _numbers(text: str) -> list[float]:
    found = []
    for token in _NUMBER.findall(text):
        try:
            found.append(float(token.replace(",", "")))
        except ValueError:
            continue
    return found


def _row_words(rows: Sequence[Sequence[Any]]) -> frozenset[str]:
    return stems_of(value for row in rows for value in row if isinstance(value, str))


def _row_numbers(rows: Sequence[Sequence[Any]]) -> list[float]:
    numbers: list[float] = []
    for row in rows:
        for value in row:
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                numbers.append(float(value))
            elif isinstance(value, str):
                numbers.extend(_numbers(value))
    return numbers


def is_grounded(
    answer: str, question: str, rows: Sequence[Sequence[Any]], *, known_words: Sequence[Collection[str]] = ()
) -> bool:
    """True when every number in ``answer`` is in the rows (as shown, rounded) or in the question, or is a row
    count, and every unit of measure it names is named by the question, the rows or one of ``known_words``
    (sets of stemmed words: the query's, the schema's)."""
    allowed = _row_numbers(rows) + _numbers(question) + [float(len(rows))]
    for number in _numbers(answer):
        if not any(_close(number, value) for value in allowed):
            return False
    units = stems(answer) & _UNITS
    if not units:
        return True  # the usual case: nothing more to look up
    unnamed = units - stems(question) - _row_words(rows)
    return all(any(unit in words for words in known_words) for unit in unnamed)


def is_plain(answer: str, *, prompt_lines: Sequence[str]) -> bool:
    """False for an answer that repeats its instructions or carries links or images (data-borne injections)."""
    lowered = answer.lower()
    if any(marker in lowered for marker in ("http://", "https://", "![", "](", "<img", "<script")):
        return False
    return not any(line.strip().lower() in lowered for line in prompt_lines if len(line.strip()) > 30)


def _close(said: float, value: float) -> bool:
    if math.isclose(said, value, rel_tol=1e-9, abs_tol=1e-9):
        return True
    # "12.35" for 12.3456, "1234" for 1234.4, "45%" for 0.45 are faithful renderings of the same value.
    return any(
        math.isclose(said, round(candidate, digits), abs_tol=10 ** -(digits + 1))
        for candidate in (value, value * 100)
        for digits in (0, 1, 2)
    )
