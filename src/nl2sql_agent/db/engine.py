"""``make_engine``: a SQLAlchemy engine confined to reading, whatever SQL reaches it.

The SQL validator is the first line of defence; this module is the one that does not depend on parsing.

* **SQLite** — the file is opened with ``mode=ro`` (a missing file is an error, never a new empty
  database), an authorizer allows only the action codes a ``SELECT`` needs plus a handful of read-only
  introspection pragmas, ``ATTACH`` is limited to zero databases, and a progress handler interrupts a
  statement once the deadline the executor set for it has passed.
* **PostgreSQL** (psycopg 3) — every session starts with ``default_transaction_read_only=on``, a
  ``statement_timeout`` and an ``idle_in_transaction_session_timeout``; the executor additionally opens each
  transaction ``READ ONLY`` and always rolls back. Pair it with a restricted role (see ``roles.py``).
"""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from nl2sql_agent.errors import ConfigurationError, DatabaseUnavailableError

CONNECT_TIMEOUT_S = 5
"""How long to wait for a PostgreSQL server before calling it unreachable."""
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
_PROGRESS_EVERY_N_OPS = 10_000
"""SQLite VM instructions between deadline checks: frequent enough to stop within milliseconds."""

# Action codes a plain SELECT (with CTEs, views, functions and subqueries) is made of.
_SQLITE_ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
# Pragmas that only describe the schema; SQLAlchemy's reflection and connection set-up use them.
_SQLITE_READ_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "database_list",
    }
)
# Pragmas that are harmless only when read (no argument): SQLAlchemy asks for the isolation level.
_SQLITE_QUERY_ONLY_PRAGMAS = frozenset({"read_uncommitted", "user_version", "schema_version"})
_SQLITE_DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"})


class GuardedSQLiteConnection(sqlite3.Connection):
    """A ``sqlite3`` connection that carries the deadline its progress handler enforces."""

    deadline: float | None = None
    """``time.monotonic()`` value after which the running statement is interrupted; ``None``: no limit."""
    default_timeout_s: float | None = None
    """The engine's per-statement timeout, used when the executor is not given one."""


def make_engine(url: str, *, statement_timeout_s: float = 10.0) -> sa.Engine:
    """Build a read-only engine for a SQLite file or a PostgreSQL database.

    Args:
        url: ``sqlite:///PATH`` or ``postgresql://...`` (``postgres://`` and ``postgresql+psycopg://`` too).
        statement_timeout_s: Default limit for one statement; the executor may pass a tighter one.

    Returns:
        A lazily connecting engine. PostgreSQL failures to connect surface on first use as
        :class:`DatabaseUnavailableError` (through the executor and the catalog).

    Raises:
        ConfigurationError: The URL is malformed or names an unsupported backend.
        DatabaseUnavailableError: The SQLite file does not exist.

    Example:
        >>> engine = make_engine("sqlite:////no/such/file.db")  # doctest: +SKIP
        Traceback (most recent call last):
        nl2sql_agent.errors.DatabaseUnavailableError: SQLite database file not found: /no/such/file.db
    """
    if statement_timeout_s <= 0:
        raise ConfigurationError("statement_timeout_s must be positive", details={"value": statement_timeout_s})
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"malformed database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _make_sqlite_engine(parsed, statement_timeout_s)
    if backend in {"postgresql", "postgres"}:
        return _make_postgres_engine(parsed, statement_timeout_s)
    raise ConfigurationError(
        f"unsupported database backend {backend!r}: use sqlite:///PATH or postgresql://...",
        details={"backend": backend},
    )


def open_raw_connection(engine: sa.Engine) -> Any:
    """A pooled DBAPI connection from ``engine``; any failure to connect is a :class:`DatabaseUnavailableError`.

    ``Engine.raw_connection`` lets the driver's own exception through unwrapped, hence the driver's
    ``Error`` base class in the ``except``.
    """
    dbapi_error: type[BaseException] = getattr(engine.dialect.loaded_dbapi, "Error", OSError)
    try:
        return engine.raw_connection()
    except DatabaseUnavailableError:
        raise
    except (dbapi_error, sa.exc.DBAPIError, OSError) as exc:
        original = getattr(exc, "orig", None) or exc
        text = str(original).strip() or type(original).__name__
        dialect = "postgres" if engine.dialect.name == "postgresql" else engine.dialect.name
        raise DatabaseUnavailableError(
            f"cannot connect to the {dialect} database: {text.splitlines()[0]}",
            details={"db_message": text, "dialect": dialect},
        ) from exc


def postgres_url(url: str | URL) -> URL:
    """``url`` with its driver set to psycopg 3 (``postgres://`` and ``postgresql://`` are accepted)."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql+psycopg")


def sqlite_file_path(url: str | URL) -> Path:
    """The file a ``sqlite:///PATH`` URL points at (``~`` expanded, not resolved)."""
    parsed = make_url(url) if isinstance(url, str) else url
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ConfigurationError(
            "a SQLite URL must name a database file (sqlite:///PATH); in-memory databases hold no data to ask about",
            details={"url": parsed.render_as_string(hide_password=True)},
        )
    return Path(database).expanduser()


def _make_sqlite_engine(url: URL, statement_timeout_s: float) -> sa.Engine:
    path = sqlite_file_path(url)
    if not path.is_file():
        raise DatabaseUnavailableError(f"SQLite database file not found: {path}", details={"path": str(path)})
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"

    def creator() -> sqlite3.Connection:
        # Checked again here: the file may vanish between make_engine and the first connection, and
        # mode=ro would otherwise report a less helpful "unable to open database file".
        if not path.is_file():
            raise DatabaseUnavailableError(f"SQLite database file not found: {path}", details={"path": str(path)})
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, factory=GuardedSQLiteConnection)
        _confine_sqlite(conn, statement_timeout_s)
        return conn

    # The URL keeps the file path so SQLAlchemy picks a file-database pool (QueuePool), not the
    # per-thread singleton it uses for memory databases.
    return sa.create_engine(sa.URL.create("sqlite", database=str(path)), creator=creator)


def _confine_sqlite(conn: GuardedSQLiteConnection, statement_timeout_s: float) -> None:
    conn.default_timeout_s = statement_timeout_s
    conn.deadline = None
    if hasattr(conn, "setlimit"):
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)

    def authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
        if action in _SQLITE_ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            # For SQLITE_FUNCTION the function name is the second argument.
            return sqlite3.SQLITE_DENY if (arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS else sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in _SQLITE_READ_PRAGMAS or (name in _SQLITE_QUERY_ONLY_PRAGMAS and arg2 is None):
                return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    def past_deadline() -> int:
        deadline = conn.deadline
        return 1 if deadline is not None and time.monotonic() > deadline else 0

    conn.set_authorizer(authorize)
    conn.set_progress_handler(past_deadline, _PROGRESS_EVERY_N_OPS)


def _make_postgres_engine(url: URL, statement_timeout_s: float) -> sa.Engine:
    url = postgres_url(url)
    server_options = (
        f"-c default_transaction_read_only=on -c statement_timeout={_ms(statement_timeout_s)} "
        f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}"
    )
    user_options = url.query.get("options")
    if isinstance(user_options, str) and user_options:
        # Ours come last so the server applies them over anything the URL asked for.
        server_options = f"{user_options} {server_options}"
    url = url.difference_update_query(["options"])
    connect_args: dict[str, Any] = {
        "connect_timeout": int(url.query.get("connect_timeout", CONNECT_TIMEOUT_S)),  # type: ignore[arg-type]
        "options": server_options,
        "application_name": "nl2sql_agent",
    }
    # pre_ping replaces connections the server dropped (restart, idle timeout) instead of failing a query.
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
