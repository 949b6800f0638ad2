"""Benchmark gold in PostgreSQL's dialect: defog's and BIRD mini-dev's own, or SQLite gold transpiled by
sqlglot with SQLite's readings made explicit."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from nl2sql_agent.evals.execution import connect_readonly
from nl2sql_agent.evals.loaders import bench_dir
from nl2sql_agent.sqltext import quote_identifier


def schema_names(path: str | Path) -> frozenset[str]:
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
            found.update(row[1].lower() for row in connection.execute(f"PRAGMA table_info({quote_identifier(table)})"))
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


def defog_gold(root: str | Path | None) -> dict[str, str]:
    """defog's PostgreSQL gold by item id (``defog:<file>:<row>``), from the ``*_postgres.csv`` files."""
    folder = bench_dir(root) / "defog" / "questions"
    gold: dict[str, str] = {}
    for path in sorted(folder.glob("*_postgres.csv")):
        stem = path.name.removesuffix("_postgres.csv")
        with path.open(encoding="utf-8", newline="") as handle:
            for index, row in enumerate(csv.DictReader(handle)):
                gold[f"defog:{stem}:{index}"] = row["query"]
    return gold


def bird_mini_gold(root: str | Path | None) -> dict[str, str]:
    path = bench_dir(root) / "bird" / "mini_dev_postgresql.json"
    if not path.is_file():
        return {}
    return {f"bird-mini:{entry['question_id']}": entry["SQL"] for entry in json.loads(path.read_text("utf-8"))}
