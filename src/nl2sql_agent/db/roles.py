"""Least-privilege database roles, and a start-up self-test that the connection really cannot write.

``create_readonly_role`` makes a PostgreSQL role that may only ``SELECT`` the chosen tables (and, where some
columns are hidden, only the other columns), whose sessions default to read-only transactions.
``verify_read_only`` tries harmless writes through an engine, always rolled back, and reports any that
went through: an empty list means the engine is confined.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from nl2sql_agent.db.engine import CONNECT_TIMEOUT_S, open_raw_connection, postgres_url
from nl2sql_agent.errors import ConfigurationError
from nl2sql_agent.sqltext import quote_identifier


def create_readonly_role(
    admin_url: str,
    role: str,
    *,
    schemas: Sequence[str] = ("public",),
    tables: Collection[str] | None = None,
    hidden_columns: Collection[str] = (),
    login: bool = False,
    password: str | None = None,
) -> None:
    """Create (or reset) a PostgreSQL role that can only read the given tables and columns.

    Idempotent: an existing role's grants in ``schemas`` are revoked and granted again. The role is
    ``NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`` and its sessions default to
    ``default_transaction_read_only = on``. Note that PostgreSQL grants ``TEMP`` on each database to
    ``PUBLIC`` by default; read-only transactions refuse ``CREATE TEMP TABLE`` anyway.

    Args:
        admin_url: URL of a role allowed to create roles and grant on the tables (e.g. the owner).
        role: Name of the role to create.
        schemas: Schemas the role may use.
        tables: Tables or views it may read, as ``name`` or ``schema.name``; ``None``: all in ``schemas``.
        hidden_columns: ``table.column`` or ``schema.table.column`` entries the role must not read; their
            tables are granted column by column.
        login: Whether the role may log in (otherwise use it through ``SET ROLE``).
        password: Password for a login role (``None`` relies on the server's authentication rules).

    Raises:
        ConfigurationError: A named table or hidden column does not exist.
        DatabaseUnavailableError: The server cannot be reached.

    Example:
        >>> create_readonly_role(  # doctest: +SKIP
        ...     "postgresql://postgres@localhost/shop", "nl2sql_reader", hidden_columns=["customers.email"]
        ... )
    """
    from psycopg import sql

    with _admin_connection(admin_url) as conn:
        cur = conn.cursor()
        ident = sql.Identifier(role)
        cur.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (role,))
        verb = sql.SQL("ALTER") if cur.fetchone() else sql.SQL("CREATE")
        attributes = sql.SQL("LOGIN" if login else "NOLOGIN") + sql.SQL(
            " NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"
        )
        if password is not None:
            attributes += sql.SQL(" PASSWORD ") + sql.Literal(password)
        cur.execute(sql.SQL("{} ROLE {} ").format(verb, ident) + attributes)
        cur.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
        cur.execute("SELECT current_database()")
        database = cur.fetchone()[0]
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), ident))

        relations = _relations(cur, schemas)
        for schema in schemas:
            cur.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(sql.Identifier(schema), ident))
            cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), ident))

        chosen = list(relations) if tables is None else [_resolve_table(t, relations, schemas) for t in tables]
        hidden = _resolve_hidden(hidden_columns, relations, schemas)
        for schema, table in chosen:
            target = sql.Identifier(schema, table)
            hidden_here = hidden.get((schema, table), set())
            if not hidden_here:
                cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(target, ident))
                continue
            visible = [c for c in relations[(schema, table)] if c not in hidden_here]
            if visible:
                cur.execute(
                    sql.SQL("GRANT SELECT ({}) ON {} TO {}").format(
                        sql.SQL(", ").join(sql.Identifier(c) for c in visible), target, ident
                    )
                )
        conn.commit()


def drop_role(admin_url: str, role: str) -> None:
    """Drop ``role`` after revoking what it holds in the database of ``admin_url``; no error if absent."""
    from psycopg import sql

    with _admin_connection(admin_url) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (role,))
        if cur.fetchone():
            cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        conn.commit()


def verify_read_only(engine: sa.Engine, *, check_privileges: bool = False) -> list[str]:
    """Try harmless writes through ``engine`` and list the ones that unexpectedly succeeded.

    Every probe runs in a transaction (and, on PostgreSQL, a savepoint) that is rolled back. Probes:
    creating a table and a temporary table, inserting and deleting zero rows of a real table, and on
    SQLite ``ATTACH`` and a ``PRAGMA`` write.

    Args:
        engine: The engine the agent will query through.
        check_privileges: PostgreSQL only: also switch the transaction to ``READ WRITE`` and probe again,
            to check that the *role* lacks write privileges even if read-only mode were turned off.

    Returns:
        One line per probe that succeeded; an empty list means the engine is confined to reading.

    Raises:
        DatabaseUnavailableError: No connection could be made.
    """
    raw = open_raw_connection(engine)
    try:
        if engine.dialect.name == "sqlite":
            return _verify_sqlite(raw)
        if engine.dialect.name == "postgresql":
            findings = _verify_postgres(raw, read_write=False)
            if check_privileges:
                findings += _verify_postgres(raw, read_write=True)
            return findings
        raise ConfigurationError(f"no read-only self-test for dialect {engine.dialect.name!r}")
    finally:
        with contextlib.suppress(Exception):
            raw.rollback()
        raw.close()


def _verify_sqlite(raw: Any) -> list[str]:
    cursor = raw.cursor()
    table = _first_sqlite_table(cursor)
    probes = [
        ("CREATE TABLE", "CREATE TABLE nl2sql_probe (x INTEGER)"),
        ("CREATE TEMP TABLE", "CREATE TEMP TABLE nl2sql_probe (x INTEGER)"),
        ("ATTACH DATABASE", "ATTACH DATABASE ':memory:' AS nl2sql_probe"),
    ]
    user_version = _sqlite_user_version(cursor)
    if user_version is not None:
        # Header pragmas are not undone by ROLLBACK, so the probe writes back the value already there.
        probes.append(("PRAGMA write", f"PRAGMA user_version = {user_version}"))
    if table is not None:
        quoted = quote_identifier(table)
        probes += [
            (f"INSERT INTO {table}", f"INSERT INTO {quoted} SELECT * FROM {quoted} WHERE 0"),
            (f"DELETE FROM {table}", f"DELETE FROM {quoted} WHERE 0"),
        ]
    # An explicit transaction keeps DDL probes undoable on an unconfined connection (the sqlite3 module
    # would otherwise autocommit them); a confined one refuses BEGIN, which is fine.
    with contextlib.suppress(sqlite3.Error):
        cursor.execute("BEGIN")
    findings = []
    for label, statement in probes:
        try:
            cursor.execute(statement)
        except sqlite3.Error:
            continue
        findings.append(f"{label} succeeded")
    with contextlib.suppress(sqlite3.Error):
        cursor.execute("ROLLBACK")
    return findings


def _sqlite_user_version(cursor: Any) -> int | None:
    try:
        cursor.execute("PRAGMA user_version")
        return int(cursor.fetchone()[0])
    except sqlite3.Error:
        return None


def _first_sqlite_table(cursor: Any) -> str | None:
    try:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~' "
            "ORDER BY name LIMIT 1"
        )
        row = cursor.fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _verify_postgres(raw: Any, *, read_write: bool) -> list[str]:
    import psycopg
    from psycopg import sql

    raw.rollback()
    cursor = raw.cursor()
    findings: list[str] = []
    suffix = " (after SET TRANSACTION READ WRITE)" if read_write else ""
    if read_write:
        try:
            cursor.execute("SET TRANSACTION READ WRITE")
        except psycopg.Error:
            raw.rollback()
            return findings
    cursor.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class AS c "
        "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' "
        "AND has_schema_privilege(n.oid, 'USAGE') ORDER BY n.nspname = current_schema() DESC, 1, 2 LIMIT 1"
    )
    row = cursor.fetchone()
    probe_name = f"nl2sql_probe_{secrets.token_hex(4)}"
    probes: list[tuple[str, Any]] = [
        ("CREATE TEMP TABLE", sql.SQL("CREATE TEMP TABLE {} (x integer)").format(sql.Identifier(probe_name))),
        ("CREATE TABLE", sql.SQL("CREATE TABLE {} (x integer)").format(sql.Identifier(probe_name))),
    ]
    if row is not None:
        target = sql.Identifier(row[0], row[1])
        name = f"{row[0]}.{row[1]}"
        probes += [
            (f"INSERT INTO {name}", sql.SQL("INSERT INTO {0} SELECT * FROM {0} WHERE false").format(target)),
            (f"DELETE FROM {name}", sql.SQL("DELETE FROM {} WHERE false").format(target)),
        ]
    for label, statement in probes:
        cursor.execute("SAVEPOINT nl2sql_probe")
        try:
            cursor.execute(statement)
        except psycopg.Error:
            cursor.execute("ROLLBACK TO SAVEPOINT nl2sql_probe")
            continue
        cursor.execute("ROLLBACK TO SAVEPOINT nl2sql_probe")
        findings.append(f"{label} succeeded{suffix}")
    raw.rollback()
    return findings


@contextlib.contextmanager
def _admin_connection(admin_url: str) -> Iterator[Any]:
    engine = sa.create_engine(postgres_url(admin_url), connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        raw = open_raw_connection(engine)
        try:
            yield raw.dbapi_connection
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()
    finally:
        engine.dispose()


def _relations(cur: Any, schemas: Sequence[str]) -> dict[tuple[str, str], list[str]]:
    """``{(schema, table): [column, ...]}`` for every table, view and materialized view in ``schemas``."""
    cur.execute(
        "SELECT n.nspname, c.relname, a.attname FROM pg_catalog.pg_class AS c "
        "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "ORDER BY n.nspname, c.relname, a.attnum",
        (list(schemas),),
    )
    relations: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in cur.fetchall():
        relations.setdefault((schema, table), []).append(column)
    return relations


def _resolve_table(name: str, relations: dict[tuple[str, str], list[str]], schemas: Sequence[str]) -> tuple[str, str]:
    candidates = [tuple(name.split(".", 1))] if "." in name else [(s, name) for s in schemas]
    for candidate in candidates:
        if candidate in relations:
            return candidate
    raise ConfigurationError(f"table {name!r} not found in schemas {list(schemas)}", details={"table": name})


def _resolve_hidden(
    entries: Collection[str], relations: dict[tuple[str, str], list[str]], schemas: Sequence[str]
) -> dict[tuple[str, str], set[str]]:
    hidden: dict[tuple[str, str], set[str]] = {}
    for entry in entries:
        table_name, _, column = entry.rpartition(".")
        if not table_name:
            raise ConfigurationError(f"hidden column {entry!r} must be written table.column", details={"column": entry})
        key = _resolve_table(table_name, relations, schemas)
        if column not in relations[key]:
            raise ConfigurationError(f"hidden column {entry!r} does not exist", details={"column": entry})
        hidden.setdefault(key, set()).add(column)
    return hidden
