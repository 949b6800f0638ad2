"""Run the benchmarks on PostgreSQL: load each benchmark database into a server once, and give items
PostgreSQL gold.

* defog is PostgreSQL-native: its databases load from their own dumps (``defog_data/<db>/<db>.sql``) and
  its gold is the ``questions/<file>_postgres.csv`` query of the same row.
* BIRD mini-dev has PostgreSQL gold of its own (``mini_dev_postgresql.json``), on the copied database.
* Every other database (Spider, BIRD dev, the sample and off-topic sets) is copied from its SQLite file
  (:func:`.pg_copy.copy_sqlite`), and its SQLite gold is transpiled by sqlglot (:func:`.pg_gold.postgres_gold`)
  after SQLite's own readings are made explicit: identifiers fold to lower case, a double-quoted name that is
  no column is a string, and ``LIKE`` ignores case.

Each database is built once, as ``nl2sql_bench_<name>``, and stamped (``COMMENT ON DATABASE``) with what
it was built from; a later run reuses it while the stamp matches, so only the first run pays the load.
The four defog databases dated relative to today are rebuilt each day, as on SQLite.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from nl2sql_agent.evals.items import BenchItem
from nl2sql_agent.evals.loaders import DEFOG_DATE_RELATIVE_DBS, bench_dir
from nl2sql_agent.evals.pg_copy import copy_sqlite
from nl2sql_agent.evals.pg_databases import ensure_database, load_dump
from nl2sql_agent.evals.pg_gold import bird_mini_gold, defog_gold, postgres_gold, schema_names

LOADER_VERSION = "2"
"""Part of every stamp: bump it when the copy rules change, so databases built by older rules are rebuilt."""
DATABASE_PREFIX = "nl2sql_bench_"


def database_name(item: BenchItem, prefix: str | None = None) -> str:
    """The PostgreSQL database an item's data goes to: defog's by name, the others by SQLite file."""
    stem = f"defog_{item.db_id}" if item.source == "defog" else Path(item.db_path).stem
    return ((prefix or DATABASE_PREFIX) + re.sub(r"[^a-z0-9_]", "_", stem.lower()))[:63]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _converted(item: BenchItem, native: dict[str, str]) -> BenchItem:
    if item.id in native:
        return dataclasses.replace(item, gold_sql=native[item.id])
    if item.source == "defog":
        return item  # idk items have no gold; defog's other gold is all native
    names = schema_names(item.db_path)

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
    native = {**defog_gold(root), **bird_mini_gold(root)}
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
