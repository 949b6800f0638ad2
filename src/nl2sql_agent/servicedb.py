"""The service's own PostgreSQL tables (API keys, verified pairs): one lazily opened pool per store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nl2sql_agent.errors import DatabaseUnavailableError


def psycopg_url(url: str) -> str:
    """``postgresql+psycopg://`` (SQLAlchemy's spelling) as psycopg's own ``postgresql://``."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


class ServicePool:
    """A connection pool opened on first use, whose first connection creates the store's table.

    The table is created under an advisory lock named after it, so replicas starting together do not race.

    An unreachable or saturated database raises :class:`DatabaseUnavailableError` (a retryable 503),
    never a driver error (a 500).
    """

    def __init__(self, url: str, *, what: str, table: str, ddl: str, max_size: int = 4) -> None:
        self.url = psycopg_url(url)
        self._what = what
        self._table = table
        self._ddl = ddl
        self._max_size = max_size
        self._pool: Any = None
        self._lock = threading.Lock()
        self._ready = False

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled autocommit connection to the service database."""
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._pooled() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DatabaseUnavailableError(
                f"the {self._what} is not reachable", details={"error": type(exc).__name__}
            ) from exc

    @contextmanager
    def _pooled(self) -> Iterator[Any]:
        from psycopg_pool import ConnectionPool

        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self._max_size,
                    open=True,
                    timeout=10,
                    kwargs={"autocommit": True, "connect_timeout": 5},
                )
        with self._pool.connection() as conn:
            if not self._ready:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._table,))
                    conn.execute(self._ddl)
                self._ready = True
            yield conn

    def close(self) -> None:
        """Close the pool (a later use opens a new one)."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
