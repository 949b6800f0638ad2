"""The red-team shop schema as a validator catalog, and adapters for ``check_validator.py``.

``python /work/shared/redteam/check_validator.py tests/safety/redteam_shop.py:validate_shop`` runs the
corpus with the catalog and the off-limits policy; ``...:validate_structural`` runs it without a catalog.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp

REDTEAM_DIR = Path(os.environ.get("NL2SQL_REDTEAM_DIR", "/work/shared/redteam"))
CORPUS = REDTEAM_DIR / "sql_attacks.jsonl"
OFF_LIMITS = frozenset({"api_tokens", "auth.users"})

if __package__ in (None, ""):  # loaded by path from check_validator.py: make the src layout importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from nl2sql_agent.safety import SqlPolicy, ValidatedQuery, validate_sql  # noqa: E402


@cache
def shop_catalog(dialect: str) -> dict[str, dict[str, str]]:
    """``{table: {column: type}}`` built from the corpus's DDL (views included, schema-qualified keys)."""
    path = REDTEAM_DIR / "schema" / ("schema_postgres.sql" if dialect == "postgres" else "schema_sqlite.sql")
    catalog: dict[str, dict[str, str]] = {}
    for statement in sqlglot.parse(path.read_text(), read=dialect):
        if not isinstance(statement, exp.Create) or statement.kind not in ("TABLE", "VIEW"):
            continue
        target = statement.this
        table = target.this if isinstance(target, exp.Schema) else target
        key = f"{table.db}.{table.name}" if table.db else table.name
        if isinstance(target, exp.Schema):
            columns = {
                col.name: col.args["kind"].sql(dialect) if col.args.get("kind") else "TEXT"
                for col in target.expressions
                if isinstance(col, exp.ColumnDef)
            }
        else:
            columns = {name: "TEXT" for name in statement.expression.named_selects}
        catalog[key.lower()] = columns
    return catalog


def shop_policy(dialect: str) -> SqlPolicy:
    """Every shop table except the off-limits ones."""
    return SqlPolicy(allowed_tables=frozenset(shop_catalog(dialect)) - OFF_LIMITS)


def validate_shop(sql: str, dialect: str) -> ValidatedQuery:
    """check_validator adapter: the shop catalog and the off-limits policy."""
    return validate_sql(sql, dialect=dialect, catalog=shop_catalog(dialect), policy=shop_policy(dialect))


def validate_structural(sql: str, dialect: str) -> ValidatedQuery:
    """check_validator adapter: no catalog (structural checks only)."""
    return validate_sql(sql, dialect=dialect)
