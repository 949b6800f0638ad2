"""Fixed, stratified subsets of the benchmarks for quick iteration (``evals/subsets/<name>.json``).

A subset is a list of item ids. The ``dev`` subset is drawn deterministically: within each benchmark,
items are grouped by (database, difficulty); each group gets a share of the benchmark's quota in
proportion to its size (at least one item), by largest remainder; inside a group items are taken in
the order of a SHA-256 hash of ``seed:id``. The same inputs always give the same ids, and adding an item
to one group does not reshuffle the others.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nl2sql_agent.evals.items import BenchItem

DEV_QUOTAS: Mapping[str, int] = {"spider": 120, "bird": 80, "defog": 100}
"""Items per benchmark in the ``dev`` subset; benchmarks not named here are taken whole."""
DEV_SEED = "nl2sql-dev-v1"


def _rank(seed: str, item_id: str) -> str:
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def _allocate(sizes: Mapping[tuple[str, str], int], quota: int) -> dict[tuple[str, str], int]:
    """Split ``quota`` over groups in proportion to ``sizes`` (largest remainder, at least 1 each)."""
    total = sum(sizes.values())
    if quota >= total:
        return dict(sizes)
    shares = {key: quota * size / total for key, size in sizes.items()}
    counts = {key: min(sizes[key], max(1, int(share))) for key, share in shares.items()}
    by_remainder = sorted(sizes, key=lambda key: (-(shares[key] - int(shares[key])), key))
    index = 0
    while sum(counts.values()) < quota and index < 10 * len(by_remainder):
        key = by_remainder[index % len(by_remainder)]
        if counts[key] < sizes[key]:
            counts[key] += 1
        index += 1
    return counts


def stratified_ids(
    items: Sequence[BenchItem], quotas: Mapping[str, int] = DEV_QUOTAS, *, seed: str = DEV_SEED
) -> list[str]:
    """Ids of a stratified sample of ``items`` (see the module docstring), in the items' order."""
    groups: dict[str, dict[tuple[str, str], list[BenchItem]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        groups[item.source][(item.db_id, item.difficulty or "")].append(item)
    chosen: set[str] = set()
    for source, strata in groups.items():
        if source not in quotas:
            chosen.update(item.id for group in strata.values() for item in group)
            continue
        counts = _allocate({key: len(group) for key, group in strata.items()}, quotas[source])
        for key, group in strata.items():
            ranked = sorted(group, key=lambda item: _rank(seed, item.id))
            chosen.update(item.id for item in ranked[: counts[key]])
    return [item.id for item in items if item.id in chosen]


def write_subset(path: str | Path, name: str, ids: Sequence[str], *, description: str = "") -> None:
    """Write a subset file."""
    payload: dict[str, Any] = {"name": name, "description": description, "count": len(ids), "ids": list(ids)}
    Path(path).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def read_subset(path: str | Path) -> list[str]:
    """The ids in a subset file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return list(data["ids"])


def select(items: Sequence[BenchItem], ids: Sequence[str]) -> list[BenchItem]:
    """The items whose id is in ``ids`` (unknown ids, e.g. of a database absent here, are ignored)."""
    wanted = set(ids)
    return [item for item in items if item.id in wanted]
