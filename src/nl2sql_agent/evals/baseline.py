"""A peer baseline: LangChain's ``create_sql_query_chain`` on the same model.

Needs the ``evals`` extra (``langchain-classic``, ``langchain-community``), imported lazily. The chain
sees the full schema with three sample rows per table (LangChain's defaults) and is asked for at most
``k`` rows; ``k`` is set high so its LIMIT does not cut results the gold returns in full. It has no
safety layer and no memory: a multi-turn item's turns are asked one by one, each on its own. It refuses
only by returning no SQL (empty output or prose, see :func:`looks_like_sql`). Its output is cleaned
minimally (see :func:`clean_chain_output`), and its tokens come from the model's ``usage_metadata``
(``get_usage_metadata_callback``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlglot
from langchain_core.callbacks import BaseCallbackHandler, get_usage_metadata_callback
from sqlglot.errors import SqlglotError

from nl2sql_agent.answer import Usage
from nl2sql_agent.evals.execution import is_server_url, readonly_uri
from nl2sql_agent.evals.items import BenchItem
from nl2sql_agent.evals.prediction import Prediction, TurnPrediction

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

LOCAL_BASE_URL = "http://127.0.0.1:8081/v1"
LOCAL_MODEL = "qwen2.5-coder-1.5b"
DEFAULT_K = 100_000
MODEL_ERROR = "model_unavailable"
"""``error_code`` when the chain raised (endpoint down, context overflow, ...)."""


def local_chat_model(
    base_url: str = LOCAL_BASE_URL, model: str = LOCAL_MODEL, *, timeout_s: float = 300.0
) -> BaseChatModel:
    """The same OpenAI-compatible local model the agent uses, at temperature 0."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        base_url=base_url, model=model, api_key=SecretStr("local"), temperature=0, timeout=timeout_s, max_retries=1
    )


def clean_chain_output(text: str) -> str:
    """The SQL in the chain's output.

    Small models often echo the prompt's format (``Question: ...`` then ``SQLQuery: ...``): the SQL starts
    after the first ``SQLQuery:`` label when there is one; code fences are dropped and the text stops at
    the end of the first fenced block or at a ``SQLResult:`` / ``Answer:`` / ``Question:`` line.

    Example:
        >>> clean_chain_output("Question: how many?\nSQLQuery: SELECT 1;\nSQLResult: 1")
        'SELECT 1'
        >>> clean_chain_output("```sql\nSELECT 2\n```\nAnswer: two")
        'SELECT 2'
    """
    raw_lines = [line.strip() for line in text.strip().splitlines()]
    labelled = [index for index, line in enumerate(raw_lines) if line.startswith("SQLQuery:")]
    if labelled:
        first = labelled[0]
        raw_lines = [raw_lines[first].removeprefix("SQLQuery:").strip(), *raw_lines[first + 1 :]]
    lines: list[str] = []
    for line in raw_lines:
        if line.startswith("```"):
            if lines:
                break  # the end of the first fenced block
            continue
        if line.startswith(("SQLResult:", "Answer:", "Question:")):
            break
        lines.append(line)
    return "\n".join(lines).strip().rstrip(";").strip()


_STATEMENT_STARTS = frozenset(
    {
        "SELECT",
        "WITH",
        "VALUES",
        "L_PAREN",
        "INSERT",
        "UPDATE",
        "DELETE",
        "CREATE",
        "DROP",
        "ALTER",
        "PRAGMA",
        "ATTACH",
        "DETACH",
        "REPLACE",
        "MERGE",
        "TRUNCATE",
        "GRANT",
        "COMMAND",
        "SET",
        "DESCRIBE",
        "USE",
    }
)


def looks_like_sql(text: str) -> bool:
    """Whether ``text`` starts like a SQL statement (its first sqlglot token is a statement keyword).

    Prose ("I cannot answer that") is no SQL, which is how the baseline refuses; SQL that sqlglot tokenizes
    but cannot parse still counts as SQL, so the database, not the harness, judges it.
    """
    try:
        tokens = sqlglot.tokenize(text, read="sqlite")
    except SqlglotError:
        return False
    return bool(tokens) and tokens[0].token_type.name in _STATEMENT_STARTS


class _CallCounter(BaseCallbackHandler):
    """Counts model calls (usage totals come from the usage-metadata callback)."""

    def __init__(self) -> None:
        self.calls = 0

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.calls += 1


@dataclass
class SqlQueryChainPredictor:
    """Predicts with ``langchain_classic.chains.create_sql_query_chain`` (one chain per database).

    Args:
        llm_factory: Builds the chat model (default: :func:`local_chat_model`).
        k: The chain's ``top_k`` (rows it is told to LIMIT to).
        use_evidence: Append items' evidence hints to the question (as ``Hint: ...``).
        name: Shown in reports.
    """

    llm_factory: Callable[[], BaseChatModel] = local_chat_model
    k: int = DEFAULT_K
    use_evidence: bool = True
    name: str = f"langchain-sql-query-chain/{LOCAL_MODEL}"
    _chains: dict[str, Runnable[Any, str]] = field(default_factory=dict, init=False, repr=False)
    _llm: BaseChatModel | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _chain(self, target: str) -> Runnable[Any, str]:
        with self._lock:
            chain = self._chains.get(target)
            if chain is None:
                from sqlalchemy import create_engine

                with warnings.catch_warnings():
                    # langchain-community warns on import that it is being sunset; the baseline still needs it.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    from langchain_classic.chains import create_sql_query_chain
                    from langchain_community.utilities import SQLDatabase

                if is_server_url(target):
                    # The chain only reads the schema and sample rows; its SQL is never run here.
                    options = {"options": "-c default_transaction_read_only=on"}
                    engine = create_engine(target, connect_args=options)
                else:
                    uri = readonly_uri(target)
                    engine = create_engine(
                        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
                    )
                if self._llm is None:
                    self._llm = self.llm_factory()
                chain = create_sql_query_chain(self._llm, SQLDatabase(engine), k=self.k)
                self._chains[target] = chain
            return chain

    def _question(self, question: str, evidence: str | None) -> str:
        if self.use_evidence and evidence:
            return f"{question}\nHint: {evidence}"
        return question

    def predict(self, item: BenchItem) -> Prediction:
        """Ask each turn of ``item`` on its own; no SQL means a refusal."""
        started = time.monotonic()
        turns: list[TurnPrediction] = []
        counter = _CallCounter()
        error_message: str | None = None
        with get_usage_metadata_callback() as usage_callback:
            try:
                chain = self._chain(item.target)
                for turn in item.all_turns():
                    output = chain.invoke(
                        {"question": self._question(turn.question, item.evidence)}, {"callbacks": [counter]}
                    )
                    sql = clean_chain_output(output)
                    if looks_like_sql(sql):
                        turns.append(TurnPrediction("answered", sql, output))
                    else:
                        turns.append(TurnPrediction("refused", None, output))
            except Exception as error:  # the endpoint, the prompt size or the DB: one item fails, not the run
                error_message = f"{type(error).__name__}: {error}"
                turns.append(TurnPrediction("error", None, "", MODEL_ERROR))
            usage = Usage(
                sum(meta.get("input_tokens", 0) for meta in usage_callback.usage_metadata.values()),
                sum(meta.get("output_tokens", 0) for meta in usage_callback.usage_metadata.values()),
                counter.calls,
            )
        return Prediction.from_turns(
            turns,
            usage=usage,
            seconds=time.monotonic() - started,
            multi_turn=item.is_multi_turn,
            error_message=error_message,
        )
