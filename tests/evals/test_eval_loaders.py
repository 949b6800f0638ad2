"""Loaders parse the shared benchmark data; the committed dev subset is the deterministic stratified draw."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from nl2sql_agent.evals.gold import expand_gold
from nl2sql_agent.evals.loaders import evals_dir, load_benchmark, load_benchmarks, load_defog
from nl2sql_agent.evals.subsets import read_subset, select, stratified_ids

ALL = ("spider", "bird", "defog", "sample", "offtopic")


def test_spider_skips_items_without_a_database(bench_root: Path) -> None:
    items = load_benchmark("spider", root=bench_root)
    assert len(items) == 629 - 62  # wta_1's 62 questions have no database here
    assert "wta_1" not in {item.db_id for item in items}
    assert set(Counter(item.difficulty for item in items)) == {"easy", "medium", "hard", "extra"}
    assert all(Path(item.db_path).is_file() and item.gold_sql for item in items)


def test_bird_carries_evidence_and_difficulty(bench_root: Path) -> None:
    dev = load_benchmark("bird", root=bench_root)
    mini = load_benchmark("bird-mini", root=bench_root)
    assert (len(dev), len(mini)) == (287, 100)
    assert {item.difficulty for item in dev} == {"simple", "moderate", "challenging"}
    assert sum(item.evidence is not None for item in dev) > 250
    assert {item.db_id for item in dev} == {"student_club", "superhero"}


def test_defog_uses_sqlite_gold_and_marks_idk_as_must_refuse(bench_root: Path, tmp_path: Path) -> None:
    items = load_defog(bench_root, cache_dir=tmp_path)
    assert len(items) == 130 + 40 + 64 + 60
    refuse = [item for item in items if item.must_refuse]
    assert len(refuse) == 60 and all(item.gold_sql is None and item.evidence is None for item in refuse)
    assert all(item.match_rule == "subset" for item in items)
    # Date-relative databases are rebuilt for today in the cache; the others are the shared files.
    broker = next(item for item in items if item.db_id == "broker")
    assert Path(broker.db_path).is_relative_to(tmp_path)
    academic = next(item for item in items if item.db_id == "academic")
    assert Path(academic.db_path).is_relative_to(bench_root)
    # SQLite gold carries ';' alternatives.
    assert max(len(expand_gold(item.gold_sql or "")) for item in items if not item.must_refuse) > 1


def test_project_sets(bench_root: Path, evals_cache: Path) -> None:
    sample = load_benchmark("sample", root=bench_root, cache_dir=evals_cache)
    assert len(sample) >= 20 and any(item.is_multi_turn for item in sample)
    assert any(item.id.startswith("sample:builtin:") for item in sample)
    offtopic = load_benchmark("offtopic", root=bench_root, cache_dir=evals_cache)
    refuse = sum(item.must_refuse for item in offtopic)
    assert refuse >= 30 and len(offtopic) - refuse >= 8


def test_ids_are_unique(bench_root: Path, evals_cache: Path) -> None:
    items = load_benchmarks(ALL, root=bench_root, cache_dir=evals_cache)
    assert len({item.id for item in items}) == len(items)


def test_dev_subset_file_is_the_stratified_draw(bench_root: Path, evals_cache: Path) -> None:
    items = load_benchmarks(ALL, root=bench_root, cache_dir=evals_cache)
    committed = read_subset(evals_dir() / "subsets" / "dev.json")
    assert committed == stratified_ids(items), (
        "regenerate with: python -m nl2sql_agent.evals --write-subset evals/subsets/dev.json"
    )
    chosen = select(items, committed)
    counts = Counter(item.source for item in chosen)
    assert (counts["spider"], counts["bird"], counts["defog"]) == (120, 80, 100)
    # Every (database, difficulty) stratum of the sampled benchmarks is represented.
    for source in ("spider", "bird", "defog"):
        strata = {(i.db_id, i.difficulty) for i in items if i.source == source}
        assert strata == {(i.db_id, i.difficulty) for i in chosen if i.source == source}


def test_unknown_benchmark() -> None:
    with pytest.raises(ValueError, match="unknown benchmark"):
        load_benchmark("nope")
