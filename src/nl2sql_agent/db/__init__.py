"""The database layer: read-only engines, a capped and timed executor, and schema reflection."""

from __future__ import annotations

from nl2sql_agent.db.catalog import reflect_catalog
from nl2sql_agent.db.engine import make_engine
from nl2sql_agent.db.executor import ReadOnlyExecutor
from nl2sql_agent.db.roles import create_readonly_role, drop_role, verify_read_only
from nl2sql_agent.db.types import ColumnInfo, ForeignKey, ResultTable, SchemaCatalog, TableInfo

__all__ = (
    "ColumnInfo",
    "ForeignKey",
    "ReadOnlyExecutor",
    "ResultTable",
    "SchemaCatalog",
    "TableInfo",
    "create_readonly_role",
    "drop_role",
    "make_engine",
    "reflect_catalog",
    "verify_read_only",
)
