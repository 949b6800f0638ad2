"""Deterministic fixes of a draft's unambiguous slips, tried before asking the model again.

Only fixes with one possible intent are made, and the result goes through ``validate_sql`` like any draft.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from nl2sql_agent.safety.catalog import CatalogLike, permitted_catalog
from nl2sql_agent.safety.policy import SqlPolicy
from nl2sql_agent.safety.tables import key_of


def requalify_columns(sql: str, *, dialect: str, catalog: CatalogLike, policy: SqlPolicy | None = None) -> str | None:
    """``sql`` with each column moved to the one table of its query that has it, or ``None`` if nothing moved.

    Small models swap table aliases (``T2.country`` where T2 is the link table and T1 the singer table); when
    exactly one other table of the same SELECT has the column, that table is what was meant.
    """
    permitted = permitted_catalog(catalog, dialect, policy or SqlPolicy()).permitted
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        scopes = traverse_scope(tree)
    except (SqlglotError, ValueError):
        return None
    changed = False
    for scope in scopes:
        tables = {
            alias.lower(): (alias, key_of(source, dialect))
            for alias, source in scope.sources.items()
            if isinstance(source, exp.Table)
        }
        for column in scope.columns:
            bound = tables.get(column.table.lower()) if column.table else None
            name = column.name.lower()
            if bound is None or name in permitted.get(bound[1], ()):
                continue
            owners = [alias for alias, key in tables.values() if name in permitted.get(key, ())]
            if len(owners) == 1:
                column.set("table", exp.to_identifier(owners[0]))
                changed = True
    return tree.sql(dialect=dialect) if changed else None
