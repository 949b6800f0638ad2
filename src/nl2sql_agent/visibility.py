"""What a caller may see: the catalog narrowed by a policy *before* retrieval, so no prompt names hidden data."""

from __future__ import annotations

from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.safety import SqlPolicy


def permitted_catalog(catalog: SchemaCatalog, policy: SqlPolicy) -> SchemaCatalog:
    """``catalog`` without the tables the policy does not allow and without hidden columns."""
    keep: dict[str, frozenset[str] | None] = {}
    for key, table in catalog.tables.items():
        qualified = f"{table.schema}.{key}" if table.schema else key
        if (
            policy.allowed_tables is not None
            and key not in policy.allowed_tables
            and qualified not in policy.allowed_tables
        ):
            continue
        hidden = policy.hidden_in(key)
        keep[key] = None if not hidden else frozenset(c.name.lower() for c in table.columns) - hidden
    return catalog.restricted(keep)
