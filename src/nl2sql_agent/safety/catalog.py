"""The catalog as the validator sees it: normalised names, permitted sub-schemas, did-you-mean hints."""

from __future__ import annotations

import difflib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from threading import Lock

from sqlglot import exp
from sqlglot.schema import MappingSchema

from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.safety.policy import SqlPolicy

DEFAULT_SCHEMAS: dict[str, str] = {"postgres": "public", "sqlite": "main"}
"""The schema unqualified names resolve to, per dialect."""

CatalogLike = SchemaCatalog | Mapping[str, Mapping[str, str]]


def table_key(name: str, schema: str | None, dialect: str) -> str:
    """The lower-case key of a table: ``name`` in the default schema, ``schema.name`` elsewhere."""
    name = name.lower()
    if not schema or schema.lower() == DEFAULT_SCHEMAS.get(dialect):
        return name
    return f"{schema.lower()}.{name}"


_DATE_WORDS = ("year", "month", "day", "date", "week", "quarter", "time", "when")


def _is_date_column(name: str, type_name: str) -> bool:
    lowered = type_name.lower()
    return "date" in lowered or "time" in lowered or name.endswith(("_date", "_at", "_on"))


@dataclass(frozen=True)
class CatalogTable:
    """One table of the normalised catalog."""

    key: str
    name: str
    schema: str | None
    columns: dict[str, str]
    """``lower-case column name -> type``, in catalog order."""
    row_count: int | None = None


@dataclass(frozen=True)
class PermittedCatalog:
    """A catalog narrowed by a policy, with the sqlglot schemas built once and reused."""

    dialect: str
    tables: dict[str, CatalogTable]
    """Every catalog table, permitted or not (used to tell "unknown" from "not available")."""
    permitted: dict[str, frozenset[str]]
    """``table key -> readable columns`` for the tables the policy allows."""
    permitted_schema: MappingSchema
    full_schema: MappingSchema
    nested: bool
    """True when some permitted table lives outside the default schema (schemas are then 2-level)."""

    def column_hint(self, table_key: str, column: str) -> str | None:
        """The closest readable column of ``table_key`` to ``column``, as ``table.column``; two when they are
        about as close ("population_density": ``state.population or state.density``)."""
        table = self.tables.get(table_key)
        readable = sorted(self.permitted.get(table_key, frozenset()))
        best = _close_matches(column.lower(), readable)
        if table is not None and best:
            return " or ".join(f"{table.key}.{name}" for name in best)
        # A model often guesses a column that lives in another table it has seen: point there.
        elsewhere = [key for key, cols in self.permitted.items() if column.lower() in cols]
        if elsewhere:
            return f"{sorted(elsewhere)[0]}.{column.lower()}"
        if table is not None and any(word in column.lower() for word in _DATE_WORDS):
            # "year", "month", "created": the model wants the table's date column.
            dated = [c for c in table.columns if c in readable and _is_date_column(c, table.columns[c])]
            if dated:
                return f"{table.key}.{dated[0]}"
        if table is not None and readable:
            loose = difflib.get_close_matches(column.lower(), readable, n=1, cutoff=0.3)
            return f"{table.key}.{loose[0]}" if loose else None
        return None

    def table_hint(self, name: str) -> str | None:
        """The closest permitted table name to ``name``."""
        best = difflib.get_close_matches(name.lower(), sorted(self.permitted), n=1, cutoff=0.5)
        return best[0] if best else None


def _tables_of(catalog: CatalogLike, dialect: str) -> dict[str, CatalogTable]:
    tables: dict[str, CatalogTable] = {}
    if isinstance(catalog, SchemaCatalog):
        for info in catalog.tables.values():
            key = table_key(info.name, info.schema, dialect)
            cols = {c.name.lower(): c.type or "TEXT" for c in info.columns}
            tables[key] = CatalogTable(key, info.name.lower(), info.schema, cols, info.row_count)
        return tables
    for raw_key, columns in catalog.items():
        schema, _, name = raw_key.rpartition(".")
        key = table_key(name, schema or None, dialect)
        cols = {str(c).lower(): str(t) for c, t in columns.items()}
        tables[key] = CatalogTable(key, name.lower(), schema or None, cols)
    return tables


def _sqlglot_type(type_name: str, dialect: str) -> str:
    # Types only matter to sqlglot for annotation, which the validator does not use; a type sqlglot
    # cannot parse must not make a whole catalog unusable.
    try:
        exp.DataType.build(type_name, dialect=dialect)
    except Exception:  # noqa: BLE001 - any parse failure means "use a neutral type"
        return "TEXT"
    return type_name


def _mapping_schema(
    tables: dict[str, CatalogTable], keep: Mapping[str, frozenset[str]], dialect: str, nested: bool
) -> MappingSchema:
    mapping: dict[str, object] = {}
    default = DEFAULT_SCHEMAS.get(dialect, "")
    for key, cols in keep.items():
        table = tables[key]
        columns = {c: _sqlglot_type(t, dialect) for c, t in table.columns.items() if c in cols}
        if nested:
            db = (table.schema or default).lower()
            mapping.setdefault(db, {})[table.name] = columns  # type: ignore[index]
        else:
            mapping[table.name] = columns
    return MappingSchema(mapping, dialect=dialect)


def _build(catalog: CatalogLike, dialect: str, policy: SqlPolicy) -> PermittedCatalog:
    tables = _tables_of(catalog, dialect)
    default = DEFAULT_SCHEMAS.get(dialect)
    permitted: dict[str, frozenset[str]] = {}
    for key, table in tables.items():
        schema = (table.schema or default or "").lower()
        if schema and schema != default and schema not in policy.allowed_schemas:
            continue
        if policy.allowed_tables is not None and key not in policy.allowed_tables:
            continue
        hidden = policy.hidden_in(key)
        permitted[key] = frozenset(c for c in table.columns if c not in hidden)
    nested = any("." in key for key in tables)
    everything = {key: frozenset(t.columns) for key, t in tables.items()}
    return PermittedCatalog(
        dialect=dialect,
        tables=tables,
        permitted=permitted,
        permitted_schema=_mapping_schema(tables, permitted, dialect, nested),
        full_schema=_mapping_schema(tables, everything, dialect, nested),
        nested=nested,
    )


def _fingerprint(catalog: CatalogLike) -> object:
    if isinstance(catalog, SchemaCatalog):
        # SchemaCatalog is immutable by contract: its identity is a valid key (and cheap).
        return ("id", id(catalog))
    return tuple((k, tuple(v.items())) for k, v in catalog.items())


_CACHE_SIZE = 32
_cache: OrderedDict[tuple[object, str, SqlPolicy], tuple[CatalogLike, PermittedCatalog]] = OrderedDict()
_cache_lock = Lock()


def permitted_catalog(catalog: CatalogLike, dialect: str, policy: SqlPolicy) -> PermittedCatalog:
    """The policy-narrowed catalog, built once per (catalog, dialect, policy) and cached (LRU)."""
    key = (_fingerprint(catalog), dialect, policy)
    with _cache_lock:
        hit = _cache.get(key)
        # Holding the catalog in the entry keeps its id() from being reused while cached.
        if hit is not None and (hit[0] is catalog or not isinstance(catalog, SchemaCatalog)):
            _cache.move_to_end(key)
            return hit[1]
    built = _build(catalog, dialect, policy)
    with _cache_lock:
        _cache[key] = (catalog, built)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return built


def _close_matches(name: str, options: list[str]) -> list[str]:
    """The option closest to ``name`` (ratio >= 0.5), and a runner-up when it is nearly as close.

    An option whose words are all words of ``name`` ("density" in "population_density") counts as close.
    """
    words = set(name.split("_"))
    scored = []
    for option in options:
        matcher = difflib.SequenceMatcher(None, name, option)
        if matcher.real_quick_ratio() >= 0.5 and matcher.quick_ratio() >= 0.5 and (ratio := matcher.ratio()) >= 0.5:
            scored.append((ratio + (0.2 if set(option.split("_")) <= words else 0.0), option))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [option for ratio, option in scored[:2] if ratio >= scored[0][0] - 0.2]
