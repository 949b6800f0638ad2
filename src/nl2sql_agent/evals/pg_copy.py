"""Copy a SQLite database into PostgreSQL, keeping what SQLite's own comparisons and the agent rely on."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nl2sql_agent.evals.execution import connect_readonly
from nl2sql_agent.evals.pg_databases import Builder
from nl2sql_agent.sqltext import quote_identifier


@dataclass(frozen=True)
class _Column:
    name: str
    pg_type: str


_AFFINITY_TYPES = {"integer": "bigint", "real": "double precision", "numeric": "numeric", "text": "text"}


def _affinity(declared: str) -> str:
    """SQLite's type affinity of a declared column type (section 3.1 of its datatype documentation)."""
    upper = declared.upper()
    if "INT" in upper:
        return "integer"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in upper or not upper:
        return "blob"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "real"
    return "numeric"


def _pg_type(declared: str, stored: set[str], integral_text: bool = False) -> str:
    """The PostgreSQL type for a column from what SQLite actually stored in it (``typeof`` classes).

    Text whose every value is an integer written plainly ('2014', not '02134') becomes ``bigint``: SQLite
    compares such text with numbers (``year = 2014``, a join on an integer key), PostgreSQL would not.
    Other text stays text, dates included: SQLite keeps dates as text, and benchmark gold reads them as
    text (``LIKE '2010%'``, ``substr(date, 1, 4)``).
    """
    stored = stored - {"null"}
    if not stored:
        return _AFFINITY_TYPES.get(_affinity(declared), "text")
    if stored == {"integer"} or (stored <= {"integer", "text"} and integral_text):
        return "bigint"
    if stored <= {"integer", "real"}:
        return "double precision"
    if stored == {"blob"}:
        return "bytea"
    return "text"


def _cell(value: Any, pg_type: str) -> Any:
    if value is None or pg_type in {"double precision", "numeric"}:
        return value
    if pg_type == "bigint":
        return int(value)  # integral text (see _pg_type) arrives as bytes
    if pg_type == "bytea":
        return value if isinstance(value, bytes) else str(value).encode()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).replace("\x00", "")  # PostgreSQL text cannot hold NUL


def copy_sqlite(path: str | Path) -> Builder:
    """A builder (for :func:`ensure_database`) that copies a SQLite database table by table.

    Identifiers are lower-cased (SQLite compares them without case; PostgreSQL folds unquoted ones to
    lower case, so the copy answers to the same spellings). Each column's type comes from the values
    stored in it. Primary keys are kept where the rows satisfy them (some gold relies on grouping by a
    key), and foreign keys are declared ``NOT VALID`` (benchmark rows do not always satisfy them, but the
    agent reads them to join), each skipped where PostgreSQL cannot declare it.
    """

    def build(connection: Any) -> None:
        source = connect_readonly(path)
        source.text_factory = bytes  # decoded per cell: some benchmark text is not valid UTF-8
        try:
            tables = [
                row[0].decode()
                for row in source.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
                )
            ]
            keys: dict[str, list[str]] = {}
            foreign: list[_ForeignKey] = []
            for table in tables:
                described, primary, links = _describe(source, table)
                _create_and_fill(connection, source, table, described)
                keys[table.lower()] = primary
                foreign.extend((table.lower(), *link) for link in links)
            _declare_keys(connection, keys, foreign)
        finally:
            source.close()

    return build


_ForeignKey = tuple[str, list[str], str, list[str | None]]
"""``(table, columns, referenced table, referenced columns)``; referenced columns are ``None`` when the
key names none (it then points at the referenced table's primary key)."""


def _declare_keys(connection: Any, keys: dict[str, list[str]], foreign: list[_ForeignKey]) -> None:
    from psycopg import sql

    def listed(columns: Iterable[str]) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(column) for column in columns)

    for table, primary in keys.items():
        if primary:
            _try(
                connection,
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(sql.Identifier(table), listed(primary)),
            )
    for table, columns, target, target_columns in foreign:
        if target not in keys:
            continue  # SQLite lets a foreign key name a table that does not exist
        referenced = [str(column) for column in target_columns] if all(target_columns) else keys[target]
        if len(referenced) != len(columns):
            continue
        statement = sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} ({}) NOT VALID").format(
            sql.Identifier(table), listed(columns), sql.Identifier(target), listed(referenced)
        )
        _try(connection, statement)


def _describe(
    source: sqlite3.Connection, table: str
) -> tuple[list[_Column], list[str], list[tuple[list[str], str, list[str | None]]]]:
    """Columns with their PostgreSQL types, the primary key, and foreign keys ``(columns, table, columns)``."""
    quoted = quote_identifier(table)
    info = source.execute(f"PRAGMA table_info({quoted})").fetchall()
    columns: list[_Column] = []
    primary: list[tuple[int, str]] = []
    for _cid, raw_name, raw_type, _notnull, _default, pk in info:
        name = raw_name.decode()
        declared = (raw_type or b"").decode()
        column = quote_identifier(name)
        stored = {row[0].decode() for row in source.execute(f"SELECT DISTINCT typeof({column}) FROM {quoted}")}
        integral = "text" in stored and _integral_text(source, quoted, column)
        columns.append(_Column(name.lower(), _pg_type(declared, stored, integral)))
        if pk:
            primary.append((pk, name.lower()))
    if len({column.name for column in columns}) != len(columns):
        raise ValueError(f"table {table!r} has columns whose names differ only in case")
    grouped: dict[int, tuple[list[str], str, list[str | None]]] = {}
    for fk_id, _seq, target, origin, to, *_ in source.execute(f"PRAGMA foreign_key_list({quoted})").fetchall():
        entry = grouped.setdefault(fk_id, ([], target.decode().lower(), []))
        entry[0].append(origin.decode().lower())
        entry[2].append(to.decode().lower() if to else None)
    return columns, [name for _, name in sorted(primary)], list(grouped.values())


def _integral_text(source: sqlite3.Connection, table: str, column: str) -> bool:
    """Whether every text value of ``column`` is a plainly written integer of bigint's range."""
    plain = f"(CAST(CAST({column} AS INTEGER) AS TEXT) = {column} AND length({column}) < 19)"
    row = source.execute(f"SELECT count(*) FROM {table} WHERE typeof({column}) = 'text' AND NOT {plain}").fetchone()
    return row is not None and row[0] == 0


def _create_and_fill(connection: Any, source: sqlite3.Connection, table: str, columns: list[_Column]) -> None:
    from psycopg import sql

    name = sql.Identifier(table.lower())
    definition = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column.name), sql.SQL(column.pg_type)) for column in columns
    )
    connection.execute(sql.SQL("CREATE TABLE {} ({})").format(name, definition))
    listed = sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)
    types = [column.pg_type for column in columns]
    with connection.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(name, listed)) as copy:
        for row in source.execute(f"SELECT * FROM {quote_identifier(table)}"):
            copy.write_row([_cell(value, pg_type) for value, pg_type in zip(row, types, strict=True)])


def _try(connection: Any, statement: Any) -> bool:
    """Run a DDL statement in a savepoint; a statement PostgreSQL refuses is skipped, not fatal."""
    import psycopg

    try:
        with connection.transaction():
            connection.execute(statement)
    except psycopg.Error:
        return False
    return True
