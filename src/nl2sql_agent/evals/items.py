"""The benchmark item type shared by loaders, predictors, scoring and reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MatchRule = Literal["exact", "subset"]
"""``exact``: same columns (any order) and rows; ``subset``: gold columns found among the predicted ones."""


@dataclass(frozen=True)
class EvalTurn:
    """One question/gold pair of a multi-turn thread."""

    question: str
    gold_sql: str | None = None
    """Gold for this turn, with defog-style alternatives allowed; ``None`` when the turn must be refused."""
    must_refuse: bool = False


@dataclass(frozen=True)
class BenchItem:
    """One evaluation item: a question (or a thread of them) against one database."""

    id: str
    """Stable across runs, unique across benchmarks (``spider:concert_singer:0``); resume keys on it."""
    source: str
    """Benchmark name: ``spider``, ``bird``, ``defog``, ``sample``, ``offtopic``."""
    db_id: str
    db_path: str
    """Filesystem path of the SQLite database the gold and predicted SQL run on."""
    question: str
    gold_sql: str | None = None
    """``None`` for items that must be refused. May hold alternatives (see :mod:`.gold`)."""
    evidence: str | None = None
    """Domain hint (BIRD ``evidence``, defog ``instructions``); passed on only when the run uses it."""
    difficulty: str | None = None
    """Spider hardness, BIRD difficulty, defog query category, or the set's own label."""
    must_refuse: bool = False
    turns: tuple[EvalTurn, ...] = ()
    """Non-empty for multi-turn items: every turn is asked in one thread; ``question`` is the first."""
    match_rule: MatchRule = "exact"
    tags: tuple[str, ...] = field(default_factory=tuple)
    server_url: str | None = None
    """SQLAlchemy URL of a PostgreSQL copy of the database (see :mod:`.postgres`): set, the item runs there,
    and its gold is in PostgreSQL's dialect; ``None``, it runs on the SQLite file."""

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the database (what ``Settings.db_url`` takes)."""
        return self.server_url or f"sqlite:///{self.db_path}"

    @property
    def target(self) -> str:
        """What gold and predicted SQL run on: the server URL, else the SQLite file's path."""
        return self.server_url or self.db_path

    @property
    def dialect(self) -> str:
        """sqlglot dialect of the gold SQL and of the database the item runs on."""
        return "postgres" if self.server_url else "sqlite"

    @property
    def is_multi_turn(self) -> bool:
        """True when the item is a thread of several questions."""
        return len(self.turns) > 0

    def all_turns(self) -> tuple[EvalTurn, ...]:
        """The turns to ask: the explicit ones, or the single question as one turn."""
        if self.turns:
            return self.turns
        return (EvalTurn(self.question, self.gold_sql, self.must_refuse),)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = asdict(self)
        data["turns"] = [asdict(turn) for turn in self.turns]
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchItem:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["turns"] = tuple(EvalTurn(**turn) for turn in values.get("turns", ()))
        values["tags"] = tuple(values.get("tags", ()))
        return cls(**values)
