"""``reflect_catalog``: what the connected role can see of a database, as a :class:`SchemaCatalog`.

Reflection goes through SQLAlchemy's inspector (batch ``get_multi_*`` calls, one round trip per kind on
PostgreSQL) and through the same read-only engine the executor uses, so it needs no extra privileges.
On PostgreSQL, tables and columns the role may not ``SELECT`` are left out: the model should never be told
about data it cannot query. SQLite has no ``COMMENT``; its comments are read from ``-- comment`` text in the
``CREATE TABLE`` statements kept in ``sqlite_master`` (a comment after a column's definition describes the
column, one between the table name and ``(`` describes the table).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine.reflection import ObjectKind
from sqlglot import exp

from nl2sql_agent.db.types import ColumnInfo, ForeignKey, SchemaCatalog, TableInfo
from nl2sql_agent.errors import DatabaseUnavailableError, QueryExecutionError

MAX_SAMPLE_CHARS = 40
"""Sample values longer than this are cut, so one long text cannot flood the prompt."""
_SAMPLE_SCAN_ROWS = 500
"""Samples come from the first rows only, so reflecting a huge table stays cheap."""
_SAMPLED_TYPES = (sa.String, sa.Date, sa.DateTime, sa.Time, sa.Enum)
"""Text-like columns, plus dates and times, whose stored format (e.g. ISO text in SQLite) the model must match."""

_log = logging.getLogger(__name__)


def reflect_catalog(
    engine: sa.Engine,
    *,
    schema: str | None = None,
    sample_values: int = 3,
    include_tables: Collection[str] | None = None,
) -> SchemaCatalog:
    """Describe the tables and views of one schema: columns, types, keys, comments, row counts, samples.

    Args:
        engine: An engine from :func:`make_engine` (any SQLAlchemy engine works).
        schema: PostgreSQL schema to read; ``None`` is the connection's default (``public``/``main``).
        sample_values: How many distinct non-null values to show per text-like or date column (0: none).
        include_tables: Only these tables and views (case-insensitive); ``None`` for all of them.

    Returns:
        A catalog keyed by lower-case table name, with ``dialect`` set to sqlglot's name for the backend.

    Raises:
        DatabaseUnavailableError: The database cannot be reached.
        QueryExecutionError: The database refused a reflection query.

    Example:
        >>> catalog = reflect_catalog(make_engine("sqlite:///retail.db"))  # doctest: +SKIP
        >>> catalog.table("sales").column("total_amount").comment  # doctest: +SKIP
        'Amount paid in USD: quantity * unit_price * (1 - discount). Revenue.'
    """
    dialect = "postgres" if engine.dialect.name == "postgresql" else engine.dialect.name
    wanted = {name.lower() for name in include_tables} if include_tables is not None else None
    try:
        with engine.connect() as conn:
            return _reflect(conn, dialect, schema, sample_values, wanted)
    except DatabaseUnavailableError:
        raise
    except sa_exc.OperationalError as exc:
        if exc.connection_invalidated or _is_connect_error(exc):
            raise DatabaseUnavailableError(
                f"cannot connect to the {dialect} database: {_first_line(exc.orig)}",
                details={"db_message": str(exc.orig).strip()},
            ) from exc
        raise QueryExecutionError(
            f"schema reflection failed: {_first_line(exc.orig)}", details={"db_message": str(exc.orig).strip()}
        ) from exc
    except sa_exc.DBAPIError as exc:
        raise QueryExecutionError(
            f"schema reflection failed: {_first_line(exc.orig)}", details={"db_message": str(exc.orig).strip()}
        ) from exc


def _reflect(
    conn: sa.Connection, dialect: str, schema: str | None, sample_values: int, wanted: set[str] | None
) -> SchemaCatalog:
    inspector = sa.inspect(conn)
    table_names = [n for n in inspector.get_table_names(schema=schema) if wanted is None or n.lower() in wanted]
    view_names = [n for n in inspector.get_view_names(schema=schema) if wanted is None or n.lower() in wanted]
    names = table_names + view_names
    if not names:
        return SchemaCatalog(dialect, {})

    visible = _visible_columns(conn, schema) if dialect == "postgres" else None
    columns = inspector.get_multi_columns(schema=schema, filter_names=names, kind=ObjectKind.ANY)
    pks = inspector.get_multi_pk_constraint(schema=schema, filter_names=table_names) if table_names else {}
    fks = inspector.get_multi_foreign_keys(schema=schema, filter_names=table_names) if table_names else {}
    if dialect == "sqlite":
        table_comments, column_comments = _sqlite_comments(conn)
    else:
        table_comments = {
            key[1]: (value or {}).get("text")
            for key, value in inspector.get_multi_table_comment(
                schema=schema, filter_names=names, kind=ObjectKind.ANY
            ).items()
        }
        column_comments = {}
    row_counts = _row_counts(conn, dialect, schema, table_names)

    preparer = conn.dialect.identifier_preparer
    kept_names = {n.lower() for n in names if visible is None or visible.get(n)}
    tables: dict[str, TableInfo] = {}
    for name in names:
        key = (schema, name)
        allowed = None if visible is None else visible.get(name, set())
        if allowed is not None and not allowed:
            continue
        pk = pks.get(key)
        pk_cols = set(pk["constrained_columns"] or ()) if pk else set()
        cols = [c for c in columns.get(key, []) if allowed is None or c["name"] in allowed]
        samples = _samples(conn, preparer, schema, name, cols, sample_values) if sample_values > 0 else {}
        infos = tuple(
            ColumnInfo(
                name=c["name"],
                type=_type_name(c["type"], conn.dialect),
                nullable=bool(c.get("nullable", True)) and c["name"] not in pk_cols,
                primary_key=c["name"] in pk_cols,
                comment=c.get("comment") or column_comments.get(name, {}).get(c["name"]),
                samples=samples.get(c["name"], ()),
            )
            for c in cols
        )
        visible_cols = {c.name for c in infos}
        foreign_keys = tuple(
            ForeignKey(tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in fks.get(key, [])
            if fk["referred_table"].lower() in kept_names and set(fk["constrained_columns"]) <= visible_cols
        )
        tables[name.lower()] = TableInfo(
            name=name,
            columns=infos,
            schema=schema,
            comment=table_comments.get(name),
            foreign_keys=foreign_keys,
            row_count=row_counts.get(name),
        )
    return SchemaCatalog(dialect, tables)


def _visible_columns(conn: sa.Connection, schema: str | None) -> dict[str, set[str]]:
    """PostgreSQL: the columns of each relation the current role may SELECT (no schema USAGE: none)."""
    rows = conn.execute(
        sa.text(
            "SELECT c.relname, a.attname FROM pg_catalog.pg_class AS c "
            "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
            "JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE n.nspname = COALESCE(:schema, current_schema()) "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "AND has_schema_privilege(n.oid, 'USAGE') "
            "AND has_column_privilege(c.oid, a.attnum, 'SELECT')"
        ),
        {"schema": schema},
    )
    visible: dict[str, set[str]] = {}
    for table, column in rows:
        visible.setdefault(table, set()).add(column)
    return visible


def _row_counts(conn: sa.Connection, dialect: str, schema: str | None, tables: list[str]) -> dict[str, int]:
    """Approximate row counts from planner statistics; exact ``count(*)`` only where SQLite has none."""
    counts: dict[str, int] = {}
    if dialect == "postgres":
        rows = conn.execute(
            sa.text(
                "SELECT c.relname, c.reltuples FROM pg_catalog.pg_class AS c "
                "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
                "WHERE n.nspname = COALESCE(:schema, current_schema()) AND c.relkind IN ('r', 'p', 'm')"
            ),
            {"schema": schema},
        )
        # reltuples is -1 for a table never vacuumed or analyzed: unknown, not empty.
        counts = {name: int(n) for name, n in rows if n is not None and n >= 0}
    elif dialect == "sqlite":
        has_stats = conn.execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
        ).first()
        if has_stats:
            for name, stat in conn.execute(sa.text("SELECT tbl, stat FROM sqlite_stat1")):
                first = str(stat).split(" ", 1)[0]
                if first.isdigit():
                    counts[name] = max(counts.get(name, 0), int(first))
        preparer = conn.dialect.identifier_preparer
        for name in tables:
            if name not in counts:
                counts[name] = int(conn.execute(sa.text(f"SELECT count(*) FROM {preparer.quote(name)}")).scalar_one())
    return {name: n for name, n in counts.items() if name in tables}


def _samples(
    conn: sa.Connection,
    preparer: Any,
    schema: str | None,
    table: str,
    columns: Sequence[Mapping[str, Any]],
    limit: int,
) -> dict[str, tuple[str, ...]]:
    """A few distinct values per text-like column, from one bounded scan of the table's first rows."""
    sampled = [c["name"] for c in columns if isinstance(c["type"], _SAMPLED_TYPES)]
    if not sampled:
        return {}
    target = preparer.quote(table) if schema is None else f"{preparer.quote_schema(schema)}.{preparer.quote(table)}"
    select_list = ", ".join(
        f"substr(CAST({preparer.quote(name)} AS TEXT), 1, {MAX_SAMPLE_CHARS + 1})" for name in sampled
    )
    rows = conn.execute(sa.text(f"SELECT {select_list} FROM {target} LIMIT {_SAMPLE_SCAN_ROWS}")).all()
    result: dict[str, tuple[str, ...]] = {}
    for index, name in enumerate(sampled):
        distinct = sorted({row[index] for row in rows if row[index] is not None})
        result[name] = tuple(_shorten(v) for v in distinct[:limit])
    return result


def _shorten(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_SAMPLE_CHARS else text[: MAX_SAMPLE_CHARS - 1] + "…"


def _type_name(type_: Any, dialect: sa.Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except sa_exc.SQLAlchemyError:
        # A column declared without a type (possible in SQLite) has no name to compile.
        return ""


def _sqlite_comments(conn: sa.Connection) -> tuple[dict[str, str | None], dict[str, dict[str, str]]]:
    """Table and column comments written as ``-- text`` in SQLite ``CREATE TABLE`` statements."""
    table_comments: dict[str, str | None] = {}
    column_comments: dict[str, dict[str, str]] = {}
    rows = conn.execute(
        sa.text("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'view') AND sql IS NOT NULL")
    )
    for name, ddl in rows:
        try:
            tree = sqlglot.parse_one(ddl, read="sqlite")
        except sqlglot.errors.SqlglotError:
            _log.debug("cannot parse the DDL of %s; no comments for it", name)
            continue
        if not isinstance(tree, exp.Create):
            continue
        table_node = tree.find(exp.Table)
        if table_node is not None and table_node.comments:
            table_comments[name] = _join_comments(table_node.comments)
        # sqlglot hangs a trailing comment on the last token before it: the ColumnDef when a comma
        # follows, otherwise the column's last constraint or type, hence the walk over the subtree.
        column_comments[name] = {}
        for col in tree.find_all(exp.ColumnDef):
            text = _join_comments([c for node in col.walk() for c in (node.comments or [])])
            if text:
                column_comments[name][col.name] = text
    return table_comments, column_comments


def _join_comments(comments: list[str]) -> str:
    # dict.fromkeys: sqlglot may copy one comment onto several nodes of a column (e.g. REFERENCES).
    return " ".join(dict.fromkeys(c.strip() for c in comments if c.strip()))


def _is_connect_error(exc: sa_exc.OperationalError) -> bool:
    # SQLAlchemy raises connect-time failures with no statement attached.
    return exc.statement is None


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else "unknown error"
