"""The safety policy a query is checked against, and the validated query it yields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlglot import exp


def _lower_set(values: Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    return frozenset(v.lower() for v in values)


@dataclass(frozen=True)
class SqlPolicy:
    """What a generated query may read and how much work it may ask for.

    Table names are lower-case; a table outside the default schema is written ``schema.table``
    (``auth.users``). Column names are ``table.column``.
    """

    max_rows: int = 1000
    """Row cap: injected as ``LIMIT`` when the outermost query has none, and the clamp for larger ones."""
    hidden_columns: frozenset[str] = frozenset()
    """``table.column`` names the caller may not read; ``SELECT *`` expands without them."""
    allowed_tables: frozenset[str] | None = None
    """Tables the caller may read; ``None`` means every table of the catalog."""
    row_filters: Mapping[str, str] = field(default_factory=dict)
    """``table -> SQL predicate``; every read of the table is rewritten to see only matching rows."""
    allowed_schemas: frozenset[str] = frozenset()
    """Schemas readable besides the default one (``public`` on PostgreSQL, ``main`` on SQLite)."""
    allow_system_catalogs: bool = False
    """Allow ``pg_catalog``, ``information_schema``, ``sqlite_master`` and friends (never for an agent)."""
    max_ast_nodes: int = 5000
    """Queries whose syntax tree is larger than this are refused as too complex."""
    extra_functions: frozenset[str] = frozenset()
    """Lower-case function names allowed on top of the built-in allowlist (e.g. a trusted UDF)."""
    allow_recursive_cte: bool = True
    """Allow ``WITH RECURSIVE`` whose recursive step stops at a literal bound of at most ``max_recursion``."""
    max_recursion: int = 10_000
    """Largest literal a recursive step may count up to."""
    max_generated_rows: int = 1_000_000
    """Largest row count a ``generate_series`` or an unconditioned cross join may produce."""
    max_blob_bytes: int = 100_000
    """Largest size for ``randomblob``/``zeroblob``/``repeat``/``lpad``-style string builders."""

    def __post_init__(self) -> None:
        if self.max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        # Normalise so that lookups are case-insensitive and the policy stays hashable.
        object.__setattr__(self, "hidden_columns", _lower_set(self.hidden_columns) or frozenset())
        object.__setattr__(self, "allowed_tables", _lower_set(self.allowed_tables))
        object.__setattr__(self, "allowed_schemas", _lower_set(self.allowed_schemas) or frozenset())
        object.__setattr__(self, "extra_functions", _lower_set(self.extra_functions) or frozenset())
        filters = {name.lower(): predicate for name, predicate in dict(self.row_filters).items()}
        object.__setattr__(self, "row_filters", MappingProxyType(filters))

    def __hash__(self) -> int:
        return hash(
            (
                self.max_rows,
                self.hidden_columns,
                self.allowed_tables,
                tuple(sorted(self.row_filters.items())),
                self.allowed_schemas,
                self.allow_system_catalogs,
                self.max_ast_nodes,
                self.extra_functions,
                self.allow_recursive_cte,
                self.max_recursion,
                self.max_generated_rows,
                self.max_blob_bytes,
            )
        )

    def hidden_in(self, table: str) -> frozenset[str]:
        """The hidden column names (lower-case) of ``table``."""
        prefix = table.lower() + "."
        return frozenset(c[len(prefix) :] for c in self.hidden_columns if c.startswith(prefix))


@dataclass(frozen=True)
class ValidatedQuery:
    """A query that passed validation, rewritten to be safe to run."""

    sql: str
    """The SQL to run, in ``dialect``: explicit columns, row filters applied, ``LIMIT`` enforced."""
    original_sql: str
    """The text that was validated, as received."""
    dialect: str
    """sqlglot dialect name, e.g. ``postgres`` or ``sqlite``."""
    tables: frozenset[str]
    """Lower-case names of the catalog tables read (``schema.table`` outside the default schema)."""
    columns: frozenset[str]
    """``table.column`` names read, when a catalog made them resolvable; empty otherwise."""
    limit: int
    """The row limit of the outermost query after injection or clamping."""
    expression: exp.Expression = field(compare=False, repr=False)
    """The rewritten sqlglot tree ``sql`` was generated from."""
