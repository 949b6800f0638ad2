"""Plain value types shared by the catalog, retrieval, the validator and the executor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class ColumnInfo:
    """One column as the agent sees it."""

    name: str
    type: str
    """The database's own type name, e.g. ``INTEGER`` or ``character varying(80)``."""
    nullable: bool = True
    primary_key: bool = False
    comment: str | None = None
    samples: tuple[str, ...] = ()
    """A few distinct values, rendered as text; untrusted data, fenced when shown to a model."""


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of the owning table reference ``ref_columns`` of ``ref_table``."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    """One table (or view) with its columns and keys."""

    name: str
    columns: tuple[ColumnInfo, ...]
    schema: str | None = None
    """The database schema (PostgreSQL namespace); ``None`` for the default one."""
    comment: str | None = None
    foreign_keys: tuple[ForeignKey, ...] = ()
    row_count: int | None = None

    def column(self, name: str) -> ColumnInfo | None:
        """The column called ``name`` (case-insensitive), if any."""
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)


@dataclass(frozen=True)
class SchemaCatalog:
    """Every table the agent may know about, keyed by lower-case table name."""

    dialect: str
    """sqlglot dialect name: ``sqlite`` or ``postgres``."""
    tables: Mapping[str, TableInfo] = field(default_factory=dict)

    def table(self, name: str) -> TableInfo | None:
        """The table called ``name`` (case-insensitive), if any."""
        return self.tables.get(name.lower())

    @cached_property
    def links(self) -> Mapping[str, frozenset[str]]:
        """For each table key, the table keys joined to it by a foreign key in either direction (computed once)."""
        linked: dict[str, set[str]] = {key: set() for key in self.tables}
        for key, table in self.tables.items():
            for fk in table.foreign_keys:
                ref = fk.ref_table.lower()
                if ref in linked and ref != key:
                    linked[key].add(ref)
                    linked[ref].add(key)
        return {key: frozenset(keys) for key, keys in linked.items()}

    def as_sqlglot_schema(self) -> dict[str, dict[str, str]]:
        """``{table: {column: type}}``, the mapping sqlglot's optimizer qualifies against."""
        return {t.name: {c.name: c.type or "TEXT" for c in t.columns} for t in self.tables.values()}

    def restricted(self, keep: Mapping[str, frozenset[str] | None]) -> SchemaCatalog:
        """A copy holding only the tables in ``keep``; a table's set (if not ``None``) limits its columns."""
        tables: dict[str, TableInfo] = {}
        for key, table in self.tables.items():
            if key not in keep:
                continue
            allowed = keep[key]
            if allowed is not None:
                cols = tuple(c for c in table.columns if c.name.lower() in allowed)
                fks = tuple(fk for fk in table.foreign_keys if all(col.lower() in allowed for col in fk.columns))
                table = TableInfo(table.name, cols, table.schema, table.comment, fks, table.row_count)
            tables[key] = table
        return SchemaCatalog(self.dialect, tables)


@dataclass(frozen=True)
class ResultTable:
    """Rows returned by a query, capped at the policy's row limit."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool = False
    """True when the database had more rows than the cap allowed to fetch."""
    elapsed_ms: float = 0.0
    """Time spent in the database driver, for overhead accounting."""
