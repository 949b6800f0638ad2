"""``make_checkpointer``: conversation memory backends (in-memory, SQLite file, PostgreSQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from nl2sql_agent.errors import CheckpointerError, ConfigurationError
from nl2sql_agent.servicedb import psycopg_url

Closer = Callable[[], None]


def make_checkpointer(url: str | None, *, data_dir: Path) -> tuple[BaseCheckpointSaver[str], Closer]:
    """A checkpointer for ``url`` and a function that closes it.

    ``None`` is a SQLite file in ``data_dir`` (so ``nl2sql ask --thread`` works across separate runs),
    ``memory`` keeps threads in this process only (notebooks, tests), ``sqlite:///PATH`` a given file, and
    ``postgresql://...`` a shared PostgreSQL database (for services with several replicas).
    """
    if url == "memory":
        return InMemorySaver(), lambda: None
    if url is None:
        return _sqlite(data_dir / "memory.sqlite")
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        return _sqlite(Path(url.split(":///", 1)[1]) if ":///" in url else data_dir / "memory.sqlite")
    if scheme in {"postgresql", "postgres"}:
        return _postgres(url)
    raise ConfigurationError(f"unsupported checkpointer URL {url!r}: use memory, sqlite:///PATH or postgresql://...")


def _sqlite(path: Path) -> tuple[BaseCheckpointSaver[str], Closer]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Several threads of one process share the saver (API workers); SqliteSaver serialises with its own lock.
        conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
        saver = SqliteSaver(conn)
        saver.setup()
    except (OSError, sqlite3.Error) as exc:
        raise CheckpointerError(
            f"cannot open conversation memory at {path}: {exc}", details={"path": str(path)}
        ) from exc
    return saver, conn.close


def _postgres(url: str) -> tuple[BaseCheckpointSaver[str], Closer]:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise ConfigurationError("PostgreSQL memory needs: pip install 'nl2sql-agent[postgres]'") from exc
    pool: ConnectionPool = ConnectionPool(
        psycopg_url(url),
        min_size=1,
        max_size=8,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row, "connect_timeout": 5},
        open=False,
    )
    try:
        pool.open(wait=True, timeout=10)
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()
    except Exception as exc:  # noqa: BLE001  # psycopg and the pool raise several unrelated types
        with suppress(Exception):
            pool.close()
        raise CheckpointerError(f"cannot open conversation memory in PostgreSQL: {exc}") from exc
    return saver, pool.close
