"""The run-scoped dependencies every node reads through ``Runtime[RunContext]``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from nl2sql_agent.db.executor import ReadOnlyExecutor
from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.intent import Vocabulary
from nl2sql_agent.safety import SqlPolicy


@dataclass(frozen=True)
class RunContext:
    """Static context for one graph run (``context_schema`` of the graph)."""

    sql_model: BaseChatModel
    """Writes SQL."""
    small_model: BaseChatModel
    """Writes the answer, and classifies intent when ``intent_model_check`` is on and the cheap check is unsure."""
    executor: ReadOnlyExecutor
    catalog: SchemaCatalog
    """What this caller may see: the database catalog already narrowed by ``policy`` (retrieval, prompts)."""
    db_catalog: SchemaCatalog
    """The whole database catalog: the validator applies ``policy`` to it, to tell "hidden" from "unknown"."""
    policy: SqlPolicy
    today: dt.date
    vocabulary: Vocabulary = Vocabulary()
    """Stemmed schema words for the cheap intent check (computed once per catalog)."""
    max_repairs: int = 1
    max_tables: int = 6
    whole_schema: str | None = None
    """The whole schema's CREATE TABLE text when it is small enough to give the model every time."""
    statement_timeout_s: float = 10.0
    max_query_cost: float | None = None
    """PostgreSQL planner cost over which a query is refused before it runs (``None``: no gate)."""
    summarize_with_model: bool = True
    intent_model_check: bool = False
    """Ask ``small_model`` about questions that name nothing in the schema or the data (else refused)."""

    @property
    def dialect(self) -> str:
        """sqlglot dialect name of the database."""
        return self.catalog.dialect
