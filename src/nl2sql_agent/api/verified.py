"""Verified question/SQL pairs: SQL a person checked, kept in the service database for reuse and evals."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from nl2sql_agent.errors import SQLValidationError, UnsafeSQLError
from nl2sql_agent.servicedb import ServicePool

VERIFIED_TABLE = "nl2sql_verified"


@dataclass(frozen=True)
class VerifiedPair:
    """One stored pair."""

    id: int
    principal_id: str
    question: str
    sql: str
    note: str | None
    created_at: str


def check_read_only_sql(sql: str, *, dialect: str) -> str:
    """Accept exactly one read-only query (parsed with sqlglot, never pattern-matched); return it normalized.

    Raises:
        SQLValidationError: the text does not parse, or holds several statements.
        UnsafeSQLError: the statement is not a plain query (DML, DDL or an unparsed command).
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as exc:  # ParseError, and TokenError for e.g. an unterminated quote
        raise SQLValidationError(f"the SQL does not parse: {_parse_problem(exc)}", sql=sql) from exc
    if len(statements) != 1:
        raise SQLValidationError("exactly one SQL statement is expected", sql=sql)
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise UnsafeSQLError(
            "only read-only queries (SELECT) can be saved",
            sql=sql,
            reasons=[f"statement type {type(statement).__name__}"],
        )
    forbidden = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command)
    if any(isinstance(node, forbidden) for node in statement.walk()) or statement.args.get("into"):
        raise UnsafeSQLError("the query writes or runs commands", sql=sql, reasons=["write or command inside"])
    return statement.sql(dialect=dialect)


def _parse_problem(exc: SqlglotError) -> str:
    # str(exc) embeds a terminal-highlighted excerpt (ANSI escapes) of the input: keep the plain facts.
    errors = exc.errors if isinstance(exc, ParseError) else []
    first = errors[0] if errors else {}
    description = first.get("description") or (str(exc).splitlines() or ["invalid SQL"])[0]
    if first.get("line") is None:
        return str(description)
    return f"{description} (line {first['line']}, column {first.get('col')})"


class VerifiedStore(Protocol):
    """Where verified pairs are kept."""

    def add(self, principal_id: str, question: str, sql: str, note: str | None) -> VerifiedPair:
        """Store one pair."""
        ...

    def list(self, principal_id: str, *, limit: int = 100) -> list[VerifiedPair]:
        """The principal's pairs, newest first."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class MemoryVerifiedStore:
    """Pairs in a list: tests and single-process development."""

    def __init__(self) -> None:
        self._pairs: list[VerifiedPair] = []
        self._lock = threading.Lock()

    def add(self, principal_id: str, question: str, sql: str, note: str | None) -> VerifiedPair:
        """Store one pair."""
        with self._lock:
            pair = VerifiedPair(
                len(self._pairs) + 1,
                principal_id,
                question,
                sql,
                note,
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
            self._pairs.append(pair)
        return pair

    def list(self, principal_id: str, *, limit: int = 100) -> list[VerifiedPair]:
        """The principal's pairs, newest first."""
        return [p for p in reversed(self._pairs) if p.principal_id == principal_id][:limit]

    def close(self) -> None:
        """Nothing to release."""


class PostgresVerifiedStore:
    """Pairs in a PostgreSQL table of the service database."""

    def __init__(self, url: str) -> None:
        self._db = ServicePool(url, what="service database", table=VERIFIED_TABLE, ddl=VERIFIED_TABLE_DDL, max_size=2)
        self.url = self._db.url

    def add(self, principal_id: str, question: str, sql: str, note: str | None) -> VerifiedPair:
        """Insert one pair."""
        with self._db.connection() as conn:
            row = conn.execute(
                f"INSERT INTO {VERIFIED_TABLE} (principal_id, question, sql, note) VALUES (%s, %s, %s, %s)"
                " RETURNING id, principal_id, question, sql, note, created_at",
                (principal_id, question, sql, note),
            ).fetchone()
        return _pair(row)

    def list(self, principal_id: str, *, limit: int = 100) -> list[VerifiedPair]:
        """The principal's pairs, newest first."""
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT id, principal_id, question, sql, note, created_at FROM {VERIFIED_TABLE}"
                " WHERE principal_id = %s ORDER BY id DESC LIMIT %s",
                (principal_id, limit),
            ).fetchall()
        return [_pair(r) for r in rows]

    def close(self) -> None:
        """Close the pool."""
        self._db.close()


VERIFIED_TABLE_DDL = f"""CREATE TABLE IF NOT EXISTS {VERIFIED_TABLE} (
    id bigserial PRIMARY KEY,
    principal_id text NOT NULL,
    question text NOT NULL,
    sql text NOT NULL,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
)"""


def _pair(row: Any) -> VerifiedPair:
    id_, principal_id, question, sql, note, created_at = row
    return VerifiedPair(int(id_), principal_id, question, sql, note, created_at.isoformat(timespec="seconds"))


def make_verified_store(url: str | None) -> VerifiedStore:
    """PostgreSQL when the service database is PostgreSQL, memory otherwise."""
    if url and url.split(":", 1)[0].split("+", 1)[0] in {"postgresql", "postgres"}:
        return PostgresVerifiedStore(url)
    return MemoryVerifiedStore()
