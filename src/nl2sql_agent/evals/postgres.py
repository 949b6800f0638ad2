"""Run the benchmarks on PostgreSQL: load each benchmark database into a server once, and give items
PostgreSQL gold.

* defog is PostgreSQL-native: its databases load from their own dumps (``defog_data/<db>/<db>.sql``) and
  its gold is the ``questions/<file>_postgres.csv`` query of the same row.
* BIRD mini-dev has PostgreSQL gold of its own (``mini_dev_postgresql.json``), on the copied database.
* Every other database (Spider, BIRD dev, the sample and off-topic sets) is copied from its SQLite file
  (:func:`copy_sqlite`), and its SQLite gold is transpiled by sqlglot (:func:`postgres_gold`) after
  SQLite's own readings are made explicit: identifiers fold to lower case, a double-quoted name that is
  no column is a string, and ``LIKE`` ignores case.

Each database is built once, as ``nl2sql_bench_<name>``, and stamped (``COMMENT ON DATABASE``) with what
it was built from; a later run reuses it while the stamp matches, so only the first run pays the load.
The four defog databases dated relative to today are rebuilt each day, as on SQLite.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from nl2sql_agent.errors import DatabaseUnavailableError
from nl2sql_agent.evals.execution import connect_readonly, libpq_url
from nl2sql_agent.evals.items import BenchItem
from nl2sql_agent.evals.loaders import DEFOG_DATE_RELATIVE_DBS, bench_dir

LOADER_VERSION = "2"
"""Part of every stamp: bump it when the copy rules change, so databases built by older rules are rebuilt."""
DATABASE_PREFIX = "nl2sql_bench_"


# -- building databases -----------------------------------------------------------------------------


def database_url(server_url: str, name: str) -> str:
    """``server_url`` (any database on the server) pointed at database ``name``, with psycopg as driver."""
    from sqlalchemy.engine import make_url

    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def database_name(item: BenchItem, prefix: str | None = None) -> str:
    """The PostgreSQL database an item's data goes to: defog's by name, the others by SQLite file."""
    stem = f"defog_{item.db_id}" if item.source == "defog" else Path(item.db_path).stem
    return ((prefix or DATABASE_PREFIX) + re.sub(r"[^a-z0-9_]", "_", stem.lower()))[:63]


Builder = Callable[[Any], None]
"""Fills a new, empty database through a psycopg connection (its transaction is committed after)."""


def ensure_database(server_url: str, name: str, stamp: str, build: Builder) -> str:
    """The URL of database ``name``, (re)built by ``build(psycopg_connection)`` unless it carries ``stamp``.

    The stamp is written last, so a build that failed half-way is redone by the next run. Builders of
    the same name queue on an advisory lock, so concurrent runs never load one database twice.

    Raises:
        DatabaseUnavailableError: the server cannot be reached.
    """
    import psycopg
    from psycopg import sql

    try:
        admin_connection = psycopg.connect(libpq_url(server_url), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise DatabaseUnavailableError(
            f"cannot reach PostgreSQL to load the benchmarks: {' '.join(str(error).split())}",
            details={"database": name},
        ) from error
    with admin_connection as admin:
        if _stamp(admin, name) == stamp:
            return database_url(server_url, name)
        admin.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        try:
            if _stamp(admin, name) != stamp:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                with psycopg.connect(libpq_url(database_url(server_url, name))) as target:
                    build(target)
                    target.commit()
                admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(stamp)))
        finally:
            admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
    return database_url(server_url, name)


def _stamp(admin: Any, name: str) -> str | None:
    row = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
    ).fetchone()
    return None if row is None else row[0]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_dump(path: Path) -> Builder:
    """A builder (for :func:`ensure_database`) that runs a plain SQL dump, such as defog's."""

    def build(connection: Any) -> None:
        # No parameters: psycopg sends the script as one simple query, so its many statements all run.
        connection.execute(path.read_bytes())

    return build


# -- copying a SQLite database ----------------------------------------------------------------------


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


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
    quoted = _quoted(table)
    info = source.execute(f"PRAGMA table_info({quoted})").fetchall()
    columns: list[_Column] = []
    primary: list[tuple[int, str]] = []
    for _cid, raw_name, raw_type, _notnull, _default, pk in info:
        name = raw_name.decode()
        declared = (raw_type or b"").decode()
        column = _quoted(name)
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
        for row in source.execute(f"SELECT * FROM {_quoted(table)}"):
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


# -- gold in PostgreSQL's dialect -------------------------------------------------------------------


def _names(path: str | Path) -> frozenset[str]:
    """Lower-cased table and column names of a SQLite database."""
    return _names_cached(str(path))


@cache
def _names_cached(path: str) -> frozenset[str]:
    connection = connect_readonly(path)
    try:
        tables = [
            row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        ]
        found = {table.lower() for table in tables}
        for table in tables:
            found.update(row[1].lower() for row in connection.execute(f"PRAGMA table_info({_quoted(table)})"))
    finally:
        connection.close()
    return frozenset(found)


def postgres_gold(sql: str, names: Iterable[str]) -> str:
    """SQLite gold SQL rewritten for PostgreSQL, keeping SQLite's meaning.

    ``names`` are the database's table and column names (lower case). SQL sqlglot cannot parse is
    returned as it is (scoring then reports the gold error).

    Example:
        >>> postgres_gold('SELECT T1.Name FROM Singer AS T1 WHERE T1.City = "Aberdeen"', {"singer", "name", "city"})
        "SELECT t1.name FROM singer AS t1 WHERE t1.city = 'Aberdeen'"
    """
    known = frozenset(name.lower() for name in names)
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except SqlglotError:
        return sql
    aliases = {alias.lower() for alias in (node.alias for node in tree.find_all(exp.Alias)) if alias}

    for column in list(tree.find_all(exp.Column)):
        identifier = column.this
        if not column.table and isinstance(identifier, exp.Identifier) and identifier.quoted:
            name = identifier.name.lower()
            if name not in known and name not in aliases:
                column.replace(exp.Literal.string(identifier.name))  # SQLite reads "x" as a string when no column is
    for identifier in tree.find_all(exp.Identifier):
        identifier.set("this", identifier.name.lower())
    for like in list(tree.find_all(exp.Like)):
        like.replace(exp.ILike(this=like.this, expression=like.expression))  # SQLite's LIKE ignores ASCII case
    for rounded in tree.find_all(exp.Round):
        if rounded.args.get("decimals") is not None:
            # PostgreSQL rounds to a number of places only a numeric; SQLite rounds any number.
            rounded.set("this", exp.cast(rounded.this, exp.DataType.Type.DECIMAL))
    try:
        return tree.sql(dialect="postgres")
    except SqlglotError:
        return sql


def _defog_gold(root: str | Path | None) -> dict[str, str]:
    """defog's PostgreSQL gold by item id (``defog:<file>:<row>``), from the ``*_postgres.csv`` files."""
    folder = bench_dir(root) / "defog" / "questions"
    gold: dict[str, str] = {}
    for path in sorted(folder.glob("*_postgres.csv")):
        stem = path.name.removesuffix("_postgres.csv")
        with path.open(encoding="utf-8", newline="") as handle:
            for index, row in enumerate(csv.DictReader(handle)):
                gold[f"defog:{stem}:{index}"] = row["query"]
    return gold


def _bird_mini_gold(root: str | Path | None) -> dict[str, str]:
    path = bench_dir(root) / "bird" / "mini_dev_postgresql.json"
    if not path.is_file():
        return {}
    return {f"bird-mini:{entry['question_id']}": entry["SQL"] for entry in json.loads(path.read_text("utf-8"))}


def _converted(item: BenchItem, native: dict[str, str]) -> BenchItem:
    if item.id in native:
        return dataclasses.replace(item, gold_sql=native[item.id])
    if item.source == "defog":
        return item  # idk items have no gold; defog's other gold is all native
    names = _names(item.db_path)

    def convert(gold: str | None) -> str | None:
        return None if gold is None else postgres_gold(gold, names)

    turns = tuple(dataclasses.replace(turn, gold_sql=convert(turn.gold_sql)) for turn in item.turns)
    return dataclasses.replace(item, gold_sql=convert(item.gold_sql), turns=turns)


def on_postgres(
    items: Sequence[BenchItem],
    server_url: str,
    *,
    root: str | Path | None = None,
    today: dt.date | None = None,
    prefix: str | None = None,
) -> list[BenchItem]:
    """The same items run on PostgreSQL at ``server_url``: their databases loaded there (once; see the
    module) and their gold in PostgreSQL's dialect.

    Args:
        items: Loaded items (:func:`~.loaders.load_benchmarks`); each keeps its SQLite file as the source.
        server_url: Any database on a server where the user may create databases, such as
            ``postgresql://postgres@127.0.0.1:5432/postgres``.
        root: The shared benchmark folder (defog's dumps and PostgreSQL gold are read from it).
        today: The day date-relative defog databases are built for (default: today).
        prefix: Database name prefix (default ``nl2sql_bench_``).

    Raises:
        DatabaseUnavailableError: the server cannot be reached.
    """
    native = {**_defog_gold(root), **_bird_mini_gold(root)}
    day = (today or dt.date.today()).isoformat()
    urls: dict[str, str] = {}
    converted: list[BenchItem] = []
    for item in items:
        name = database_name(item, prefix)
        if name not in urls:
            urls[name] = _load(item, name, server_url, root, day)
        converted.append(dataclasses.replace(_converted(item, native), server_url=urls[name]))
    return converted


def _load(item: BenchItem, name: str, server_url: str, root: str | Path | None, day: str) -> str:
    if item.source == "defog":
        dump = bench_dir(root) / "defog" / "defog_data" / item.db_id / f"{item.db_id}.sql"
        stamp = f"{LOADER_VERSION}:dump:{_file_digest(dump)}"
        if item.db_id in DEFOG_DATE_RELATIVE_DBS:
            stamp += f":{day}"  # rows dated relative to CURRENT_DATE: rebuilt on the day of the run
        return ensure_database(server_url, name, stamp, load_dump(dump))
    path = Path(item.db_path)
    return ensure_database(server_url, name, f"{LOADER_VERSION}:sqlite:{_file_digest(path)}", copy_sqlite(path))
