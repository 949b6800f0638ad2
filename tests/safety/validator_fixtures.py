"""Loader for tests/fixtures/validator/{accept,reject}.sql (sqlglot-fixture style golden cases)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "validator"


@dataclass(frozen=True)
class SqlCase:
    """One golden case: the SQL and its ``# key: value`` meta lines."""

    sql: str
    line: int
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def dialect(self) -> str:
        return self.meta["dialect"]

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.dialect}-{self.meta.get('reason', '')[:40]}"


def load_cases(name: str) -> list[SqlCase]:
    """Cases of ``name`` (``accept.sql`` or ``reject.sql``): meta lines, then SQL, ended by a blank line.

    Lines of the file header (before the first ``# dialect:``) are ignored.
    """
    cases: list[SqlCase] = []
    meta: dict[str, str] = {}
    sql_lines: list[str] = []
    start = 0

    def flush() -> None:
        if "dialect" in meta:
            cases.append(SqlCase("\n".join(sql_lines), start, dict(meta)))
        meta.clear()
        sql_lines.clear()

    for number, line in enumerate((FIXTURES / name).read_text().splitlines(), start=1):
        if not line.strip():
            flush()
        elif line.startswith("# ") and ":" in line and not sql_lines:
            key, _, value = line[2:].partition(":")
            meta[key.strip()] = value.strip()
            start = start if len(meta) > 1 else number
        elif "dialect" in meta:
            sql_lines.append(line)
    flush()
    return cases
