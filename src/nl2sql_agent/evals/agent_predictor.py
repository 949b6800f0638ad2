"""The predictor that evaluates this project's :class:`~nl2sql_agent.Agent`."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nl2sql_agent.answer import Usage
from nl2sql_agent.evals.items import BenchItem
from nl2sql_agent.evals.prediction import HARNESS_EXCEPTION, Prediction, PredictionStatus, TurnPrediction

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from nl2sql_agent.agent import Agent
    from nl2sql_agent.settings import Settings

SettingsFactory = Callable[[str], "Settings"]
"""Builds the agent's settings for one database URL (``sqlite:///PATH``)."""

EVAL_MAX_ROWS = 100_000
"""Row cap for evaluation runs: the agent's default (1,000) would cut long gold results short."""


def eval_settings_factory(base: Settings | None = None, **overrides: Any) -> SettingsFactory:
    """A settings factory for evaluations: ``base`` (or ``Settings()``) with the item's database, memory
    kept in-process, and a row cap high enough not to truncate gold-sized results.

    Example:
        >>> factory = eval_settings_factory(model="local")  # doctest: +SKIP
        >>> factory("sqlite:////tmp/db.sqlite").db_url  # doctest: +SKIP
        'sqlite:////tmp/db.sqlite'
    """
    from nl2sql_agent.settings import Settings

    def build(db_url: str) -> Settings:
        values = (base or Settings()).model_dump()
        # Only the SQL is scored, and the peer baseline writes no summary: answers come from the template.
        defaults = {"checkpointer_url": "memory", "max_rows": EVAL_MAX_ROWS, "summarize_with_model": False}
        values.update({**defaults, **overrides, "db_url": db_url})
        return Settings(**values)

    return build


@dataclass
class AgentPredictor:
    """Asks an :class:`~nl2sql_agent.Agent` — one per database, a fresh thread per item, every turn of a
    multi-turn item in the same thread. Errors the agent raises become ``status="error"`` predictions
    with the error's code; their usage still counts.

    Args:
        settings_factory: Settings for a database URL (see :func:`eval_settings_factory`).
        model: Chat model to use instead of the one the settings name (e.g. a ``FakeChatModel``).
        use_evidence: Pass items' evidence hints (BIRD evidence, defog instructions) to the agent.
        name: Shown in reports; defaults to ``nl2sql-agent/<settings.model>``.
    """

    settings_factory: SettingsFactory
    model: BaseChatModel | None = None
    use_evidence: bool = True
    name: str = ""
    _agents: dict[str, Agent] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            # Settings are cheap to build; a placeholder URL is enough to read the model spec.
            spec = self.settings_factory("sqlite://").model
            if self.model is not None:
                spec = str(getattr(self.model, "model_name", None) or type(self.model).__name__)
            self.name = f"nl2sql-agent/{spec}"

    def _agent(self, db_url: str) -> Agent:
        with self._lock:
            agent = self._agents.get(db_url)
            if agent is None:
                from nl2sql_agent.agent import Agent

                agent = Agent.from_settings(self.settings_factory(db_url), model=self.model)
                self._agents[db_url] = agent
            return agent

    def predict(self, item: BenchItem) -> Prediction:
        """Ask every turn of ``item`` in one new thread."""
        from nl2sql_agent.errors import Nl2SqlError

        started = time.monotonic()
        usage = Usage()
        turns: list[TurnPrediction] = []
        error_message: str | None = None
        try:
            agent = self._agent(item.db_url)
        except Nl2SqlError as error:
            return Prediction(
                "error", error_code=str(error.code), error_message=error.message, seconds=time.monotonic() - started
            )
        thread_id = f"eval-{item.id}-{uuid.uuid4().hex[:8]}"
        evidence = item.evidence if self.use_evidence else None
        for turn in item.all_turns():
            try:
                answer = agent.ask(turn.question, thread_id=thread_id, evidence=evidence)
            except Nl2SqlError as error:
                partial = getattr(error, "answer", None)
                if partial is not None:
                    usage = usage + partial.usage
                sql = getattr(error, "sql", None) or (partial.sql if partial is not None else None)
                turns.append(TurnPrediction("error", sql, error.message, str(error.code)))
                error_message = error.message
                break  # later turns depend on this one; they count as not reached
            usage = usage + answer.usage
            status: PredictionStatus = "refused" if answer.status == "refused" else "answered"
            turns.append(TurnPrediction(status, answer.sql, answer.answer))
        if not turns:
            turns.append(TurnPrediction("error", error_code=HARNESS_EXCEPTION))
        return Prediction.from_turns(
            turns,
            usage=usage,
            seconds=time.monotonic() - started,
            multi_turn=item.is_multi_turn,
            error_message=error_message,
        )

    def close(self) -> None:
        """Close every agent opened so far."""
        with self._lock:
            for agent in self._agents.values():
                agent.close()
            self._agents.clear()
