"""The harness on PostgreSQL: copying SQLite databases, loading dumps, gold in PostgreSQL's dialect, and
read-only execution, against the real server (skipped where it is not reachable)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nl2sql_agent.answer import Usage
from nl2sql_agent.errors import DatabaseUnavailableError
from nl2sql_agent.evals.cli import main
from nl2sql_agent.evals.compare import results_match
from nl2sql_agent.evals.execution import ExecutionFailed, run_query
from nl2sql_agent.evals.items import BenchItem, EvalTurn
from nl2sql_agent.evals.loaders import load_defog
from nl2sql_agent.evals.pg_copy import copy_sqlite
from nl2sql_agent.evals.pg_databases import ensure_database
from nl2sql_agent.evals.pg_gold import postgres_gold
from nl2sql_agent.evals.postgres import on_postgres
from nl2sql_agent.evals.prediction import Prediction, TurnPrediction
from nl2sql_agent.evals.report import load_report
from nl2sql_agent.evals.scoring import score_item

pytestmark = pytest.mark.postgres

MESSY_SCHEMA = """
CREATE TABLE Stadium (Stadium_ID int PRIMARY KEY, Name text, Capacity number, Opened TEXT);
CREATE TABLE concert (
  concert_ID int, Year text, Stadium_ID text, zip text, rating real, notes text, photo blob, mixed,
  PRIMARY KEY (concert_ID),
  FOREIGN KEY (Stadium_ID) REFERENCES stadium (Stadium_ID)
);
CREATE TABLE ticket (concert_id int REFERENCES concert, seat text, PRIMARY KEY (concert_id, seat),
  FOREIGN KEY (seat) REFERENCES concert (zip));
CREATE TABLE dupes (id text PRIMARY KEY, label text);
INSERT INTO Stadium VALUES (1, 'Hampden', 52500, '1903-10-31'), (2, 'Somerset', 11998, '1920-01-01');
INSERT INTO concert VALUES
  (10, '2014', '1', '02134', 4.5, 'a' || char(0) || 'b', x'00ff', 7),
  (11, '2015', '2', '10001', 3, 'Fine', NULL, 'seven'),
  (12, '2015', '2', NULL, NULL, NULL, NULL, NULL);
INSERT INTO ticket VALUES (10, 'A1'), (10, 'A2'), (11, 'B1');
INSERT INTO dupes VALUES (NULL, 'one'), (NULL, 'again');
"""


@pytest.fixture()
def messy_sqlite(make_sqlite: Callable[[str, str], Path]) -> Path:
    """A SQLite database with what real benchmark files have: mixed-case names, numbers kept as text,
    zero bytes, blobs, a column of mixed types, foreign keys PostgreSQL cannot declare, and a primary key
    with NULLs (SQLite allows them outside INTEGER keys)."""
    return make_sqlite("messy.sqlite", MESSY_SCHEMA)


@pytest.fixture()
def prefix(pg_admin_url: str) -> Iterator[str]:
    """A database name prefix of this test's own; every database made under it is dropped afterwards."""
    import psycopg

    name = f"nl2sql_test_bench_{uuid.uuid4().hex[:8]}_"
    yield name
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        made = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",)).fetchall()
        for (database,) in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _columns(url: str, table: str) -> dict[str, str]:
    result = run_query(
        url,
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = 'public' AND table_name = '{table}'",
    )
    return dict(result.rows)


def _constraints(url: str) -> set[tuple[str, str, bool]]:
    result = run_query(url, "SELECT conrelid::regclass::text, contype::text, convalidated FROM pg_constraint")
    return {tuple(row) for row in result.rows if row[0] in {"stadium", "concert", "ticket", "dupes"}}


def test_copy_keeps_rows_and_what_sqlite_compares(messy_sqlite: Path, pg_admin_url: str, prefix: str) -> None:
    url = ensure_database(pg_admin_url, prefix + "messy", "stamp", copy_sqlite(messy_sqlite))
    assert _columns(url, "concert") == {
        "concert_id": "bigint",
        "year": "bigint",  # '2014' stored as text: SQLite compares it with 2014, so must PostgreSQL
        "stadium_id": "bigint",  # the join to stadium.stadium_id works as it did
        "zip": "text",  # '02134' is no plainly written integer: its leading zero is kept
        "rating": "double precision",
        "notes": "text",
        "photo": "bytea",
        "mixed": "text",
    }
    assert _columns(url, "stadium")["opened"] == "text"  # dates stay the text SQLite stored
    constraints = _constraints(url)
    assert {("stadium", "p", True), ("concert", "p", True), ("ticket", "p", True)} <= constraints
    assert ("concert", "f", False) in constraints  # declared NOT VALID: the agent still reads the link
    assert ("ticket", "f", False) in constraints  # concert_id, pointing at concert's primary key
    assert len([c for c in constraints if c[:2] == ("ticket", "f")]) == 1  # seat -> zip has no unique key
    assert ("dupes", "p", True) not in constraints  # its NULLs break it there: skipped, the rows kept
    assert run_query(url, "SELECT count(*) FROM dupes").rows == [(2,)]
    copied = run_query(url, "SELECT concert_id, notes, photo, mixed FROM concert ORDER BY concert_id")
    assert copied.rows == [(10, "ab", b"\x00\xff", "7"), (11, "Fine", None, "seven"), (12, None, None, None)]
    year = run_query(url, "SELECT count(*) FROM concert WHERE year = 2015")
    assert year.rows == [(2,)]


def test_databases_are_reused_by_stamp_and_rebuilt_after_a_failed_build(
    messy_sqlite: Path, pg_admin_url: str, prefix: str
) -> None:
    builds: list[str] = []

    def counted(connection: object) -> None:
        builds.append("built")
        copy_sqlite(messy_sqlite)(connection)

    def broken(connection: object) -> None:
        raise RuntimeError("the load died half-way")

    name = prefix + "stamped"
    ensure_database(pg_admin_url, name, "v1", counted)
    ensure_database(pg_admin_url, name, "v1", counted)
    assert builds == ["built"]
    with pytest.raises(RuntimeError):
        ensure_database(pg_admin_url, name, "v2", broken)
    url = ensure_database(pg_admin_url, name, "v2", counted)  # no stamp was left by the broken build
    assert builds == ["built", "built"]
    assert run_query(url, "SELECT count(*) FROM stadium").rows == [(2,)]


def test_gold_keeps_sqlite_meaning() -> None:
    names = {"singer", "name", "city", "age", "documents", "description"}
    assert postgres_gold('SELECT Name FROM Singer WHERE City = "Aberdeen"', names) == (
        "SELECT name FROM singer WHERE city = 'Aberdeen'"
    )
    # A double-quoted name that is a column or an alias stays a name.
    assert postgres_gold('SELECT "Name" AS "Who" FROM singer ORDER BY "Who"', names) == (
        'SELECT "name" AS "who" FROM singer ORDER BY "who" NULLS FIRST'
    )
    assert postgres_gold("SELECT count(*) FROM documents WHERE description LIKE '%W%'", names) == (
        "SELECT COUNT(*) FROM documents WHERE description ILIKE '%W%'"
    )
    assert postgres_gold("SELECT ROUND(AVG(age), 2) FROM singer", names) == (
        "SELECT ROUND(CAST(AVG(age) AS DECIMAL), 2) FROM singer"
    )
    assert postgres_gold("SELECT (((", names) == "SELECT (((", "unparsable gold is left for scoring to report"


def test_queries_run_read_only_with_a_time_limit(pg_scratch_url: str) -> None:
    assert run_query(pg_scratch_url, "SELECT '100%' AS share").rows == [("100%",)]
    with pytest.raises(ExecutionFailed) as write:
        run_query(pg_scratch_url, "CREATE TABLE written (a int)")
    assert write.value.kind == "readonly"
    with pytest.raises(ExecutionFailed) as slow:
        run_query(pg_scratch_url, "SELECT pg_sleep(5)", timeout_s=0.3)
    assert slow.value.kind == "timeout"
    with pytest.raises(ExecutionFailed) as wrong:
        run_query(pg_scratch_url, "SELECT no_such_column FROM pg_class")
    assert wrong.value.kind == "error"
    with pytest.raises(ExecutionFailed) as gone:
        run_query("postgresql+psycopg://postgres@127.0.0.1:1/none", "SELECT 1")
    assert gone.value.kind == "unavailable"


def test_items_are_scored_on_postgres_with_converted_gold(messy_sqlite: Path, pg_admin_url: str, prefix: str) -> None:
    item = BenchItem(
        id="spider:messy:0",
        source="spider",
        db_id="messy",
        db_path=str(messy_sqlite),
        question="Which stadiums had concerts in 2015?",
        gold_sql="SELECT DISTINCT T2.Name FROM concert AS T1 JOIN Stadium AS T2 ON T1.Stadium_ID = T2.Stadium_ID "
        'WHERE T1.Year = "2015"',
    )
    turns = (EvalTurn("How many stadiums?", "SELECT count(*) FROM Stadium"), EvalTurn("Say hi", None, True))
    thread = dataclasses.replace(item, id="sample:messy:1", source="sample", question=turns[0].question, turns=turns)
    converted = on_postgres([item, thread], pg_admin_url, prefix=prefix)
    assert converted[0].server_url == converted[1].server_url
    assert converted[0].dialect == "postgres" and converted[0].db_url.startswith("postgresql+psycopg://")
    assert "'2015'" in str(converted[0].gold_sql) and converted[1].turns[1].gold_sql is None

    def answered(sql: str) -> Prediction:
        return Prediction.from_turns(
            [TurnPrediction("answered", sql, "")], usage=Usage(), seconds=0.0, multi_turn=False
        )

    right = (
        "SELECT s.name FROM stadium s "
        "WHERE EXISTS (SELECT 1 FROM concert c WHERE c.stadium_id = s.stadium_id AND c.year = 2015)"
    )
    assert score_item(converted[0], answered(right)).correct
    assert not score_item(converted[0], answered("SELECT name FROM stadium")).correct
    # SQLite's spelling of a date function fails there: the turn is an error, not a crash.
    failed = score_item(converted[0], answered("SELECT strftime('%Y', opened) FROM stadium"))
    assert failed.turns[0].pred_error == "error"
    turns = [TurnPrediction("answered", "SELECT 2", ""), TurnPrediction("refused", None, "No.")]
    assert score_item(converted[1], Prediction.from_turns(turns, usage=Usage(), seconds=0.0, multi_turn=True)).correct


def test_defog_loads_its_own_dump_and_postgres_gold(bench_root: Path, pg_admin_url: str, prefix: str) -> None:
    items = [item for item in load_defog(bench_root, files=("questions_gen",)) if item.db_id == "geography"][:3]
    converted = on_postgres(items, pg_admin_url, root=bench_root, prefix=prefix)
    for before, after in zip(items, converted, strict=True):
        assert after.server_url is not None and after.server_url.endswith(prefix + "defog_geography")
        assert after.gold_sql != before.gold_sql or "strftime" not in str(before.gold_sql)
        gold = run_query(after.target, str(after.gold_sql).split(";")[0])
        same_on_sqlite = run_query(before.target, str(before.gold_sql).split(";")[0])
        assert results_match(same_on_sqlite, gold, ordered=False)


def test_cli_runs_on_postgres_and_says_when_it_cannot(
    bench_root: Path,
    tmp_path: Path,
    pg_admin_url: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("nl2sql_agent.evals.postgres.DATABASE_PREFIX", prefix)
    script = tmp_path / "model.json"
    script.write_text(json.dumps({"rules": [{"role": "sql", "reply": "SELECT count(*) FROM singer"}]}))
    subset = tmp_path / "two.json"
    subset.write_text(json.dumps({"ids": ["spider:concert_singer:0", "spider:concert_singer:2"]}))
    out = tmp_path / "run"
    args = ["-b", "spider", "--subset", str(subset), "--model", f"fake:{script}", "--no-progress"]
    assert main([*args, "--out", str(out), "--postgres", pg_admin_url]) == 0
    (report,) = load_report(out)
    assert report["overall"]["correct"] == 1 and report["overall"]["items"] == 2
    assert report["run"]["engine"] == "postgres"
    capsys.readouterr()
    with pytest.raises(DatabaseUnavailableError, match="cannot reach PostgreSQL"):
        main([*args, "--out", str(tmp_path / "none"), "--postgres", "postgresql://postgres@127.0.0.1:1/postgres"])
