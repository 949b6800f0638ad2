"""Which ``exp.Table`` nodes read real tables, and whether the policy lets them be read."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.scope import Scope, traverse_scope

from nl2sql_agent.safety.catalog import DEFAULT_SCHEMAS, PermittedCatalog, table_key
from nl2sql_agent.safety.functions import decode_name
from nl2sql_agent.safety.policy import SqlPolicy

_PG_SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})
_SQLITE_SYSTEM_TABLES = frozenset({"dbstat", "sqlite_dbpage", "sqlite_stmt"})


def scopes_of(root: exp.Expression) -> list[Scope]:
    """sqlglot's scopes of ``root``; a ``ValueError`` when the query's names cannot be resolved."""
    try:
        return traverse_scope(root)
    except OptimizeError as error:
        raise ValueError(str(error)) from error


def real_tables(root: exp.Expression, scopes: list[Scope]) -> list[exp.Table]:
    """Every table reference in ``root`` that is not a CTE name or a table function.

    A reference is treated as a CTE only when sqlglot's scope analysis resolves it to one, so any
    reference the analysis misses is checked as a real table (fail closed).
    """
    cte_refs: set[int] = set()
    for scope in scopes:
        for table in scope.tables:
            if table.args.get("db") or table.args.get("catalog"):
                continue
            source = scope.sources.get(table.alias_or_name)
            if isinstance(source, Scope) and source.is_cte:
                cte_refs.add(id(table))
    return [
        table
        for table in root.find_all(exp.Table)
        if isinstance(table.this, exp.Identifier) and id(table) not in cte_refs
    ]


def key_of(table: exp.Table, dialect: str) -> str:
    """The catalog key of a table reference."""
    return table_key(table.name, table.db or None, dialect)


def _is_system(name: str, schema: str, dialect: str) -> bool:
    if dialect == "postgres":
        return schema in _PG_SYSTEM_SCHEMAS or schema.startswith("pg_") or name.startswith("pg_")
    if dialect == "sqlite":
        return name.startswith(("sqlite_", "pragma_")) or name in _SQLITE_SYSTEM_TABLES
    return name.startswith(("pg_", "sqlite_")) or schema in _PG_SYSTEM_SCHEMAS


def table_refusal(
    table: exp.Table, dialect: str, policy: SqlPolicy, catalog: PermittedCatalog | None
) -> tuple[str, bool] | None:
    """Why ``table`` may not be read, and whether that is a safety refusal (else a validation issue).

    Returns ``None`` when the table may be read.
    """
    name = decode_name(table.name)
    schema = decode_name(table.db)
    if table.catalog:
        return f"table {table.sql(dialect)} names another database; only {name} of this one can be read", True
    shown = f"{schema}.{name}" if schema else name
    if _is_system(name, schema, dialect) and not policy.allow_system_catalogs:
        return f"system catalog {shown} cannot be queried; ask about the application tables instead", True
    default = DEFAULT_SCHEMAS.get(dialect)
    system_ok = policy.allow_system_catalogs and _is_system(name, schema, dialect)
    if schema and schema != default and schema not in policy.allowed_schemas and not system_ok:
        return f"schema {schema} is not available to you (table {shown})", True
    if system_ok:
        return None
    key = key_of(table, dialect)
    if catalog is None:
        if policy.allowed_tables is not None and key not in policy.allowed_tables:
            return f"table {key} is not available to you", True
        return None
    if key in catalog.permitted:
        return None
    if key in catalog.tables:
        return f"table {key} is not available to you", True
    hint = catalog.table_hint(key)
    suffix = f"; did you mean {hint}?" if hint else ""
    return f"unknown table {key}{suffix}", False
