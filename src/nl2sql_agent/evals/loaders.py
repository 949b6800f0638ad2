"""Load benchmark items: Spider, BIRD, defog sql-eval, the sample retail set and the off-topic set.

Databases are SQLite files. The shared benchmark folder (``NL2SQL_BENCH_DIR``, default
``/work/shared/bench``) is read-only; what the harness must build (defog databases with dates relative
to today, the sample database) goes to a cache folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nl2sql_agent.evals.items import BenchItem, EvalTurn
from nl2sql_agent.evals.spider_hardness import spider_hardness

DEFAULT_BENCH_DIR = Path("/work/shared/bench")
BENCHMARKS = ("spider", "bird", "bird-mini", "defog", "sample", "offtopic")
"""Names :func:`load_benchmark` accepts."""

DEFOG_DATE_RELATIVE_DBS = frozenset({"broker", "car_dealership", "derm_treatment", "ewallet"})
"""defog databases whose rows are dated relative to ``CURRENT_DATE``: rebuilt on the day of the run."""
DEFOG_QUESTION_FILES = ("questions_gen", "instruct_basic", "instruct_advanced", "idk")


def bench_dir(path: str | Path | None = None) -> Path:
    """The shared benchmark folder: ``path``, else ``$NL2SQL_BENCH_DIR``, else ``/work/shared/bench``."""
    return Path(path or os.environ.get("NL2SQL_BENCH_DIR") or DEFAULT_BENCH_DIR)


def evals_dir(path: str | Path | None = None) -> Path:
    """The repository's ``evals/`` folder (datasets, subsets): ``path``, ``$NL2SQL_EVALS_DIR`` or the checkout's."""
    if path or os.environ.get("NL2SQL_EVALS_DIR"):
        return Path(path or os.environ["NL2SQL_EVALS_DIR"])
    return Path(__file__).resolve().parents[3] / "evals"


def default_cache_dir() -> Path:
    """Where rebuilt databases go unless a run names a folder."""
    return Path(tempfile.gettempdir()) / "nl2sql-evals-cache"


# -- Spider -----------------------------------------------------------------------------------------


def load_spider(root: str | Path | None = None) -> list[BenchItem]:
    """Spider dev items whose SQLite database exists; difficulty is Spider's hardness level."""
    folder = bench_dir(root) / "spider"
    entries = json.loads((folder / "dev.json").read_text(encoding="utf-8"))
    items: list[BenchItem] = []
    for index, entry in enumerate(entries):
        db_path = folder / "database" / entry["db_id"] / f"{entry['db_id']}.sqlite"
        if not db_path.is_file():
            continue
        items.append(
            BenchItem(
                id=f"spider:{entry['db_id']}:{index}",
                source="spider",
                db_id=entry["db_id"],
                db_path=str(db_path),
                question=entry["question"],
                gold_sql=entry["query"],
                difficulty=spider_hardness(entry["sql"]) if "sql" in entry else None,
            )
        )
    return items


# -- BIRD -------------------------------------------------------------------------------------------


def load_bird(root: str | Path | None = None, *, split: str = "dev") -> list[BenchItem]:
    """BIRD items with their ``evidence`` hints: ``split`` is ``dev`` (dev.json) or ``mini_dev``.

    Whether the hint reaches the model is the predictor's choice (``use_evidence``), reported per run.
    """
    folder = bench_dir(root) / "bird"
    file_name, source = {"dev": ("dev.json", "bird"), "mini_dev": ("mini_dev_sqlite.json", "bird-mini")}[split]
    entries = json.loads((folder / file_name).read_text(encoding="utf-8"))
    items: list[BenchItem] = []
    for entry in entries:
        db_path = folder / "dbs" / entry["db_id"] / f"{entry['db_id']}.sqlite"
        if not db_path.is_file():
            continue
        items.append(
            BenchItem(
                id=f"{source}:{entry['question_id']}",
                source=source,
                db_id=entry["db_id"],
                db_path=str(db_path),
                question=entry["question"],
                gold_sql=entry["SQL"],
                evidence=entry.get("evidence") or None,
                difficulty=entry.get("difficulty"),
            )
        )
    return items


# -- defog ------------------------------------------------------------------------------------------


def defog_db_path(
    root: str | Path | None, db_name: str, *, cache_dir: str | Path | None = None, today: dt.date | None = None
) -> Path:
    """The SQLite database for a defog ``db_name``.

    The prebuilt file in ``sqlite_dbs/`` is used as is, except for the date-relative databases: those are
    rebuilt from ``defog_data/<db>/<db>_sqlite.sql`` into ``cache_dir/defog/<today>/`` once a day, so that
    the gold and the predicted SQL see data dated relative to the day they run.
    """
    folder = bench_dir(root) / "defog"
    if db_name not in DEFOG_DATE_RELATIVE_DBS:
        return folder / "sqlite_dbs" / f"{db_name}.db"
    day = (today or dt.date.today()).isoformat()
    target = Path(cache_dir or default_cache_dir()) / "defog" / day / f"{db_name}.db"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        script = (folder / "defog_data" / db_name / f"{db_name}_sqlite.sql").read_text(encoding="utf-8")
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        connection = sqlite3.connect(partial)
        try:
            connection.executescript(script)
            connection.commit()
        finally:
            connection.close()
        partial.replace(target)  # atomic: a concurrent run never sees a half-built file
    return target


def _defog_csv(folder: Path, stem: str) -> Path:
    sqlite_version = folder / "questions" / f"{stem}_sqlite.csv"
    return sqlite_version if sqlite_version.is_file() else folder / "questions" / f"{stem}.csv"


def load_defog(
    root: str | Path | None = None,
    *,
    files: Iterable[str] = DEFOG_QUESTION_FILES,
    cache_dir: str | Path | None = None,
    today: dt.date | None = None,
) -> list[BenchItem]:
    """defog sql-eval items on the SQLite builds, with SQLite gold (``*_sqlite.csv``) where it exists.

    ``idk`` questions must be refused. ``instructions`` become the item's evidence; difficulty is the
    query category. Matching uses the ``subset`` rule, as sql-eval does.
    """
    folder = bench_dir(root) / "defog"
    items: list[BenchItem] = []
    for stem in files:
        with _defog_csv(folder, stem).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        must_refuse = stem == "idk"
        for index, row in enumerate(rows):
            db_name = row["db_name"]
            items.append(
                BenchItem(
                    id=f"defog:{stem}:{index}",
                    source="defog",
                    db_id=db_name,
                    db_path=str(defog_db_path(root, db_name, cache_dir=cache_dir, today=today)),
                    question=row["question"],
                    gold_sql=None if must_refuse else row["query"],
                    # idk instructions tell the model which canned sentence to SELECT: a refusal is the answer.
                    evidence=None if must_refuse else (row.get("instructions") or None),
                    difficulty=row.get("query_category") or None,
                    must_refuse=must_refuse,
                    match_rule="subset",
                    tags=(stem,),
                )
            )
    return items


# -- the project's own sets -------------------------------------------------------------------------


def sample_db_path(cache_dir: str | Path | None = None) -> Path:
    """Build (once) the bundled sample retail database in the cache and return its path.

    Raises:
        FileNotFoundError: the package has no sample database builder (``nl2sql_agent.sample_db``).
    """
    try:
        from nl2sql_agent.sample_db import ensure_sample_sqlite
    except ImportError as error:
        raise FileNotFoundError("nl2sql_agent.sample_db is not available") from error
    target = Path(cache_dir or default_cache_dir()) / "sample" / "sample_retail.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    result = ensure_sample_sqlite(target)
    return Path(result) if result is not None else target


def resolve_db(reference: str, *, root: str | Path | None = None, cache_dir: str | Path | None = None) -> Path:
    """The database path for a dataset reference: ``sample``, ``spider:<db>``, ``bird:<db>``, ``defog:<db>``."""
    kind, _, name = reference.partition(":")
    folder = bench_dir(root)
    match kind:
        case "sample":
            return sample_db_path(cache_dir)
        case "spider":
            return folder / "spider" / "database" / name / f"{name}.sqlite"
        case "bird":
            return folder / "bird" / "dbs" / name / f"{name}.sqlite"
        case "defog":
            return defog_db_path(root, name, cache_dir=cache_dir)
    raise ValueError(f"unknown database reference {reference!r}")


def _item_from_record(record: dict[str, Any], *, source: str, db_ref: str, db_path: Path) -> BenchItem:
    turns = tuple(
        EvalTurn(turn["question"], turn.get("gold_sql"), bool(turn.get("must_refuse", False)))
        for turn in record.get("turns", ())
    )
    question = record.get("question") or (turns[0].question if turns else "")
    return BenchItem(
        id=f"{source}:{record['id']}",
        source=source,
        db_id=db_ref,
        db_path=str(db_path),
        question=question,
        gold_sql=record.get("gold_sql") if not turns else turns[0].gold_sql,
        evidence=record.get("evidence"),
        difficulty=record.get("difficulty"),
        must_refuse=bool(record.get("must_refuse", False)),
        turns=turns,
        tags=tuple(record.get("tags", ())),
    )


def load_dataset_file(
    path: str | Path, *, root: str | Path | None = None, cache_dir: str | Path | None = None
) -> list[BenchItem]:
    """Items of a project dataset file (``evals/datasets/*.json``).

    The file holds ``{"source": NAME, "db": REFERENCE, "items": [...]}``; an item may name its own
    ``db``. Items whose database cannot be found are skipped (as Spider's missing ``wta_1`` is).
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    source = data["source"]
    items: list[BenchItem] = []
    paths: dict[str, Path | None] = {}
    for record in data["items"]:
        db_ref = record.get("db", data.get("db", "sample"))
        if db_ref not in paths:
            try:
                found = resolve_db(db_ref, root=root, cache_dir=cache_dir)
                paths[db_ref] = found if found.is_file() else None
            except FileNotFoundError:
                paths[db_ref] = None
        db_path = paths[db_ref]
        if db_path is not None:
            items.append(_item_from_record(record, source=source, db_ref=db_ref, db_path=db_path))
    return items


def load_sample(
    root: str | Path | None = None, *, datasets: str | Path | None = None, cache_dir: str | Path | None = None
) -> list[BenchItem]:
    """The sample retail set: ``evals/datasets/sample_retail.json`` plus ``sample_db.SAMPLE_QUESTIONS``
    (as ``sample:builtin:<n>``, so their gold stays in step with the database builder). Empty when the
    package has no sample database."""
    items = load_dataset_file(evals_dir(datasets) / "datasets" / "sample_retail.json", root=root, cache_dir=cache_dir)
    if not items:
        return items
    from nl2sql_agent.sample_db import SAMPLE_QUESTIONS

    db_path = items[0].db_path
    for index, sample in enumerate(SAMPLE_QUESTIONS):
        items.append(
            BenchItem(
                id=f"sample:builtin:{index}",
                source="sample",
                db_id="sample",
                db_path=db_path,
                question=sample.question,
                gold_sql=sample.sql,
                difficulty="builtin",
            )
        )
    return items


def load_benchmark(
    name: str,
    *,
    root: str | Path | None = None,
    datasets: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> list[BenchItem]:
    """All runnable items of one benchmark named in :data:`BENCHMARKS`."""
    match name:
        case "spider":
            return load_spider(root)
        case "bird":
            return load_bird(root)
        case "bird-mini":
            return load_bird(root, split="mini_dev")
        case "defog":
            return load_defog(root, cache_dir=cache_dir)
        case "sample":
            return load_sample(root, datasets=datasets, cache_dir=cache_dir)
        case "offtopic":
            return load_dataset_file(evals_dir(datasets) / "datasets" / "offtopic.json", root=root, cache_dir=cache_dir)
    raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")


def load_benchmarks(
    names: Iterable[str],
    *,
    root: str | Path | None = None,
    datasets: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> list[BenchItem]:
    """Items of several benchmarks, in the order named."""
    items: list[BenchItem] = []
    for name in names:
        items.extend(load_benchmark(name, root=root, datasets=datasets, cache_dir=cache_dir))
    return items
