"""A small real SQLite database for the draft fixers: heroes, powers and publishers with foreign keys, pets
with none, flights and airlines linked only by a shared key-like column name, and conferences, publications
and their authors linked only by initial-and-id keys (``cid``, ``pid``); and the helper that builds any such
database with the catalog the agent reflects from it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from nl2sql_agent.db.catalog import reflect_catalog
from nl2sql_agent.db.engine import make_engine
from nl2sql_agent.db.types import SchemaCatalog

SCHEMA = """
CREATE TABLE publisher (id INTEGER PRIMARY KEY, publisher_name TEXT);
CREATE TABLE superhero (id INTEGER PRIMARY KEY, superhero_name TEXT, height_cm INTEGER,
    publisher_id INTEGER REFERENCES publisher(id), secret_identity TEXT);
CREATE TABLE superpower (id INTEGER PRIMARY KEY, power_name TEXT);
CREATE TABLE hero_power (hero_id INTEGER REFERENCES superhero(id), power_id INTEGER REFERENCES superpower(id));
CREATE TABLE pets (PetID INTEGER PRIMARY KEY, PetType TEXT, weight REAL);
CREATE TABLE rival (a_id INTEGER REFERENCES superhero(id), b_id INTEGER REFERENCES superhero(id), note TEXT);
CREATE TABLE airline (airline_code TEXT, airline_name TEXT);
CREATE TABLE flight (flight_id INTEGER, airline_code TEXT, time_zone_code TEXT);
CREATE TABLE city (city_code TEXT, state_code TEXT, time_zone_code TEXT);
CREATE TABLE conference (cid INTEGER, name TEXT);
CREATE TABLE publication (pid INTEGER, cid INTEGER, title TEXT);
CREATE TABLE writes (aid INTEGER, pid INTEGER);
INSERT INTO conference VALUES (1, 'ICML'), (2, 'AAAS');
INSERT INTO publication VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c');
INSERT INTO writes VALUES (100, 10), (101, 11), (100, 12);
INSERT INTO airline VALUES ('DL', 'Delta'), ('UA', 'United');
INSERT INTO flight VALUES (1, 'DL', 'EST'), (2, 'UA', 'PST'), (3, 'DL', 'PST');
INSERT INTO publisher VALUES (1, 'Marvel Comics'), (2, 'DC Comics');
INSERT INTO superhero VALUES (1, 'Thor', 198, 1, 'x'), (2, 'Batman', 188, 2, 'y'), (3, 'Hulk', 244, 1, 'z');
INSERT INTO superpower VALUES (1, 'Flight'), (2, 'Strength');
INSERT INTO hero_power VALUES (1, 1), (1, 2), (3, 2);
INSERT INTO pets VALUES (1, 'dog', 12.0), (2, 'cat', 3.5);
"""


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return sorted(conn.execute(sql).fetchall())


def sqlite_database(folder: Path, schema: str) -> Iterator[tuple[Path, SchemaCatalog]]:
    """A SQLite file built from ``schema`` in ``folder``, with the catalog the agent reflects from it."""
    path = folder / "db.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(schema)
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield path, reflect_catalog(engine)
    finally:
        engine.dispose()
