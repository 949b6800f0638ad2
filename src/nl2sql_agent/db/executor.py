"""``ReadOnlyExecutor``: run one validated statement with a row cap and a time limit, and never commit.

Values come back JSON-friendly, so a ``ResultTable`` can go straight into graph state, a cache or an API
response without a custom encoder:

* ``Decimal`` becomes ``float`` (answers are read by people and models; 15 significant digits are plenty,
  and a string would make the model treat amounts as text);
* ``date``, ``datetime`` and ``time`` become ISO 8601 strings, ``timedelta`` its total seconds (``float``);
* ``bytes``/``memoryview`` become a hex string, ``UUID`` and other unknown scalars their ``str()``;
* ``list``/``tuple`` values (PostgreSQL arrays) are converted item by item; ``dict`` (JSON) is kept as is.

Errors are mapped to the library's own: :class:`QueryTimeoutError` (statement cancelled by the deadline),
:class:`QueryExecutionError` (the database refused the statement; ``details["db_message"]`` holds its own
words, fed back to the model for repair) and :class:`DatabaseUnavailableError` (no connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import decimal
import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from nl2sql_agent.db.engine import GuardedSQLiteConnection, open_raw_connection
from nl2sql_agent.db.types import ResultTable
from nl2sql_agent.errors import DatabaseUnavailableError, QueryExecutionError, QueryTimeoutError

_PG_CURSOR_NAME = "nl2sql_result"
_PG_DECLARE_PREFIX = f'DECLARE "{_PG_CURSOR_NAME}" CURSOR FOR '
"""What psycopg puts before the statement for a server-side cursor; error positions are shifted back by it."""
_PG_CONNECTION_SQLSTATE_CLASSES = ("08", "57P")
"""Connection exceptions and operator intervention (server shutting down): the database is unavailable."""


class ReadOnlyExecutor:
    """Runs single SELECT statements on an engine from :func:`make_engine`.

    The executor never commits: SQLite connections are read-only at the file and authorizer level, and
    every PostgreSQL statement runs in a ``READ ONLY`` transaction that is always rolled back.

    Example:
        >>> from nl2sql_agent.db import make_engine
        >>> executor = ReadOnlyExecutor(make_engine("sqlite:///sample.db"))  # doctest: +SKIP
        >>> executor.run("SELECT count(*) AS n FROM customers", max_rows=10).rows  # doctest: +SKIP
        ((3000,),)
    """

    def __init__(self, engine: sa.Engine) -> None:
        """Wrap ``engine``; the executor does not own it and never disposes of it."""
        self.engine = engine
        self.dialect: str = "postgres" if engine.dialect.name == "postgresql" else engine.dialect.name
        """sqlglot's name for the engine's dialect: ``sqlite`` or ``postgres``."""

    def run(self, sql: str, *, max_rows: int, timeout_s: float | None = None) -> ResultTable:
        """Execute one statement and return at most ``max_rows`` rows.

        Args:
            sql: Exactly one statement (the validator's output). Several statements are refused by the driver.
            max_rows: Row cap; ``truncated`` is set when the database had more.
            timeout_s: Per-statement limit; ``None`` uses the engine's ``statement_timeout_s``.

        Raises:
            QueryTimeoutError: The statement ran past the limit and was cancelled.
            QueryExecutionError: The database refused or failed the statement.
            DatabaseUnavailableError: No connection could be made or it was lost.
        """
        if max_rows < 0:
            raise ValueError("max_rows must not be negative")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self.dialect == "sqlite":
            return self._run_sqlite(sql, max_rows, timeout_s)
        if self.dialect == "postgres":
            return self._run_postgres(sql, max_rows, timeout_s)
        raise QueryExecutionError(f"unsupported dialect {self.dialect!r}", details={"dialect": self.dialect})

    async def arun(self, sql: str, *, max_rows: int, timeout_s: float | None = None) -> ResultTable:
        """:meth:`run` in a worker thread, so the event loop keeps serving while the database works."""
        return await asyncio.to_thread(self.run, sql, max_rows=max_rows, timeout_s=timeout_s)

    def explain_cost(self, sql: str) -> float | None:
        """The planner's total cost estimate for ``sql`` (PostgreSQL ``EXPLAIN (FORMAT JSON)``, no ANALYZE).

        Returns ``None`` on backends without a comparable estimate (SQLite). The statement is planned,
        never executed, inside a read-only transaction that is rolled back.

        Raises:
            QueryExecutionError: The statement cannot be planned (the database's message is in the details).
            DatabaseUnavailableError: No connection could be made.
        """
        if self.dialect != "postgres":
            return None
        raw = self._connect()
        try:
            cursor = raw.cursor()
            # Pipeline mode sends everything with the extended protocol, which refuses several
            # statements in one string (a plain execute without parameters would run them all).
            with raw.dbapi_connection.pipeline():
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                row = cursor.fetchone()
        except Exception as exc:
            raise _map_postgres_error(exc, sql, prefix="EXPLAIN (FORMAT JSON) ") from exc
        finally:
            _rollback_and_close(raw)
        plan = row[0] if row else None
        if isinstance(plan, str):
            plan = json.loads(plan)
        try:
            return float(plan[0]["Plan"]["Total Cost"])  # type: ignore[index]
        except (TypeError, KeyError, IndexError, ValueError):
            return None

    def _connect(self) -> Any:
        return open_raw_connection(self.engine)

    def _run_sqlite(self, sql: str, max_rows: int, timeout_s: float | None) -> ResultTable:
        raw = self._connect()
        conn = raw.dbapi_connection
        guarded = isinstance(conn, GuardedSQLiteConnection)
        limit = timeout_s if timeout_s is not None else (conn.default_timeout_s if guarded else None)
        started = time.perf_counter()
        try:
            if guarded:
                conn.deadline = time.monotonic() + limit if limit is not None else None
            cursor = raw.cursor()
            try:
                cursor.execute(sql)
                rows = cursor.fetchmany(max_rows + 1)
                columns = tuple(d[0] for d in cursor.description or ())
            finally:
                cursor.close()
        except sqlite3.Error as exc:
            raise _map_sqlite_error(exc, sql, limit) from exc
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            if guarded:
                conn.deadline = None
            _rollback_and_close(raw)
        return _result(columns, rows, max_rows, elapsed_ms)

    def _run_postgres(self, sql: str, max_rows: int, timeout_s: float | None) -> ResultTable:
        raw = self._connect()
        started = time.perf_counter()
        try:
            setup = raw.cursor()
            # SET TRANSACTION must come first in the transaction psycopg opens implicitly.
            setup.execute("SET TRANSACTION READ ONLY")
            if timeout_s is not None:
                setup.execute(f"SET LOCAL statement_timeout = {max(1, round(timeout_s * 1000))}")
            setup.close()
            # A server-side cursor streams only the rows fetched, and DECLARE accepts nothing but one
            # SELECT/VALUES query: several statements or a data-modifying CTE are refused by the server.
            cursor = raw.cursor(name=_PG_CURSOR_NAME)
            try:
                cursor.execute(sql)
                columns = tuple(d[0] for d in cursor.description or ())
                rows = cursor.fetchmany(max_rows + 1)
            finally:
                # Closed explicitly even after an error: psycopg warns about server cursors left to the GC.
                with contextlib.suppress(Exception):
                    cursor.close()
        except Exception as exc:
            raise _map_postgres_error(exc, sql, prefix=_PG_DECLARE_PREFIX) from exc
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            _rollback_and_close(raw)
        return _result(columns, rows, max_rows, elapsed_ms)


def _result(columns: tuple[str, ...], rows: Sequence[Sequence[Any]], max_rows: int, elapsed_ms: float) -> ResultTable:
    truncated = len(rows) > max_rows
    kept = rows[:max_rows]
    return ResultTable(
        columns=columns,
        rows=tuple(tuple(to_json_value(v) for v in row) for row in kept),
        truncated=truncated,
        elapsed_ms=round(elapsed_ms, 3),
    )


def to_json_value(value: Any) -> Any:
    """Convert one database value to a JSON-friendly Python value (see the module docstring)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _rollback_and_close(raw: Any) -> None:
    try:
        raw.rollback()
    except Exception:  # a broken connection is invalidated; the first error matters more
        try:
            raw.invalidate()
        except Exception:
            pass
    finally:
        raw.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _map_sqlite_error(exc: sqlite3.Error, sql: str, limit: float | None) -> Exception:
    message = str(exc).strip() or type(exc).__name__
    details: dict[str, Any] = {"db_message": message, "sql": sql}
    code = getattr(exc, "sqlite_errorname", None)
    if code:
        details["db_code"] = code
    if isinstance(exc, sqlite3.OperationalError) and message == "interrupted":
        return QueryTimeoutError(
            f"the query ran longer than {limit:g} s and was stopped" if limit else "the query was interrupted",
            details={"timeout_s": limit, "sql": sql},
        )
    if code in {"SQLITE_CANTOPEN", "SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_IOERR"}:
        return DatabaseUnavailableError(f"cannot read the SQLite database: {message}", details=details)
    return QueryExecutionError(f"the database rejected the query: {message}", details=details)


def _map_postgres_error(exc: Exception, sql: str, *, prefix: str) -> Exception:
    import psycopg  # lazily: psycopg is the optional [postgres] extra

    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if not isinstance(exc, psycopg.Error):
        return exc
    sqlstate = exc.sqlstate or ""
    message = _postgres_message(exc, sql, prefix)
    details: dict[str, Any] = {"db_message": message, "sqlstate": sqlstate or None, "sql": sql}
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return QueryTimeoutError(
            f"the query ran past the statement timeout and was cancelled: {message}", details=details
        )
    if (isinstance(exc, psycopg.OperationalError) and not sqlstate) or sqlstate.startswith(
        _PG_CONNECTION_SQLSTATE_CLASSES
    ):
        return DatabaseUnavailableError(f"lost the connection to the PostgreSQL database: {message}", details=details)
    return QueryExecutionError(f"the database rejected the query: {message}", details=details)


def _postgres_message(exc: Any, sql: str, prefix: str) -> str:
    """The server's primary message with detail, hint and a pointer into *the caller's* SQL."""
    diag = exc.diag
    primary = diag.message_primary or _first_line(exc)
    parts = [primary]
    position = diag.statement_position
    if position and position.isdigit():
        index = int(position) - 1 - len(prefix)
        if 0 <= index < len(sql):
            parts.append(f"at character {index + 1}: {sql[index : index + 40]!r}")
    if diag.message_detail:
        parts.append(f"DETAIL: {diag.message_detail}")
    if diag.message_hint:
        parts.append(f"HINT: {diag.message_hint}")
    return "; ".join(parts)
