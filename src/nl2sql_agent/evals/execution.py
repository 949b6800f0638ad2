"""Run SQL strictly read-only, with a time limit and a row cap: on a SQLite file, or on PostgreSQL.

PostgreSQL statements run in a ``READ ONLY`` transaction with ``statement_timeout``, always rolled back.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nl2sql_agent.servicedb import psycopg_url

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_ROWS = 200_000
"""Results larger than this are cut and marked ``truncated``; such a result never matches."""

_PROGRESS_STEPS = 10_000
"""SQLite VM instructions between two deadline checks: cheap, and fine-grained enough (~ms)."""


@dataclass(frozen=True)
class QueryResult:
    """What a statement returned."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    truncated: bool = False
    seconds: float = 0.0


class ExecutionFailed(Exception):
    """The statement could not run: ``kind`` is ``timeout``, ``readonly``, ``error`` or ``unavailable``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def readonly_uri(path: str | Path) -> str:
    """A ``file:`` URI that opens ``path`` read-only (writes fail with "attempt to write a readonly database")."""
    return f"file:{quote(str(Path(path).resolve()))}?mode=ro"


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """Open a read-only connection; missing files are an error instead of a new empty database."""
    if not Path(path).is_file():
        raise ExecutionFailed("unavailable", f"database file not found: {path}")
    try:
        connection = sqlite3.connect(readonly_uri(path), uri=True, check_same_thread=False)
    except sqlite3.Error as error:
        raise ExecutionFailed("unavailable", str(error)) from error
    # Some benchmark databases hold text that is not valid UTF-8; keep going instead of failing the row.
    connection.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
    return connection


def is_server_url(target: str | Path) -> bool:
    """Whether ``target`` is a PostgreSQL URL rather than a SQLite file's path."""
    return str(target).startswith(("postgresql:", "postgresql+", "postgres:"))


def run_query(
    target: str | Path,
    sql: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> QueryResult:
    """Execute one statement read-only and fetch its rows.

    Args:
        target: A SQLite file's path, or a PostgreSQL URL (see :func:`is_server_url`).

    Raises:
        ExecutionFailed: the database is missing, the statement failed, wrote, or ran past ``timeout_s``.
    """
    if is_server_url(target):
        return _run_postgres(str(target), sql, timeout_s=timeout_s, max_rows=max_rows)
    connection = connect_readonly(target)
    started = time.monotonic()
    deadline = started + timeout_s
    timed_out = False

    def _check_deadline() -> int:
        nonlocal timed_out
        if time.monotonic() > deadline:
            timed_out = True
            return 1  # a non-zero return makes SQLite interrupt the statement
        return 0

    connection.set_progress_handler(_check_deadline, _PROGRESS_STEPS)
    try:
        cursor = connection.execute(sql)
        columns = tuple(description[0] for description in cursor.description or ())
        rows = cursor.fetchmany(max_rows + 1)
    except sqlite3.Error as error:
        if timed_out:
            raise ExecutionFailed("timeout", f"query ran past {timeout_s:g} s") from error
        kind = "readonly" if getattr(error, "sqlite_errorname", "") == "SQLITE_READONLY" else "error"
        raise ExecutionFailed(kind, str(error)) from error
    except (ValueError, OverflowError) as error:  # e.g. "You can only execute one statement at a time."
        raise ExecutionFailed("error", str(error)) from error
    finally:
        connection.close()
    truncated = len(rows) > max_rows
    return QueryResult(columns, rows[:max_rows], truncated, time.monotonic() - started)


def _run_postgres(url: str, sql: str, *, timeout_s: float, max_rows: int) -> QueryResult:
    import psycopg
    from psycopg import errors

    started = time.monotonic()
    try:
        connection = psycopg.connect(psycopg_url(url), connect_timeout=max(1, round(timeout_s)))
    except psycopg.Error as error:
        raise ExecutionFailed("unavailable", " ".join(str(error).split())) from error
    connection.read_only = True  # the transaction below is READ ONLY: any write fails inside PostgreSQL
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", (f"{round(timeout_s * 1000)}ms",))
            # Benchmark SQL is run as written: no client-side parameters, so a literal '%' stays a '%'.
            cursor.execute(sql.encode())
            columns = tuple(column.name for column in cursor.description or ())
            rows = [tuple(row) for row in cursor.fetchmany(max_rows + 1)] if cursor.description else []
    except errors.QueryCanceled as error:
        raise ExecutionFailed("timeout", f"query ran past {timeout_s:g} s") from error
    except errors.ReadOnlySqlTransaction as error:
        raise ExecutionFailed("readonly", str(error).strip()) from error
    except psycopg.Error as error:
        raise ExecutionFailed("error", str(error).strip()) from error
    finally:
        connection.close()  # closing without a commit rolls the transaction back
    truncated = len(rows) > max_rows
    return QueryResult(columns, rows[:max_rows], truncated, time.monotonic() - started)
