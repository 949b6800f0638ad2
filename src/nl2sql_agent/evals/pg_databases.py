"""Databases on a PostgreSQL server built once and reused: :func:`ensure_database` creates one, fills it
with a builder and stamps it (``COMMENT ON DATABASE``) with what it was built from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nl2sql_agent.db.engine import postgres_url
from nl2sql_agent.errors import DatabaseUnavailableError
from nl2sql_agent.servicedb import psycopg_url

Builder = Callable[[Any], None]
"""Fills a new, empty database through a psycopg connection (its transaction is committed after)."""


def database_url(server_url: str, name: str) -> str:
    """``server_url`` (any database on the server) pointed at database ``name``, with psycopg as driver."""
    return postgres_url(server_url).set(database=name).render_as_string(hide_password=False)


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
        admin_connection = psycopg.connect(psycopg_url(server_url), autocommit=True, connect_timeout=10)
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
                with psycopg.connect(psycopg_url(database_url(server_url, name))) as target:
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


def load_dump(path: Path) -> Builder:
    """A builder (for :func:`ensure_database`) that runs a plain SQL dump, such as defog's."""

    def build(connection: Any) -> None:
        # No parameters: psycopg sends the script as one simple query, so its many statements all run.
        connection.execute(path.read_bytes())

    return build
