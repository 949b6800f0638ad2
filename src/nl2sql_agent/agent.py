"""``Agent``: the graph plus what it runs against (database, models, memory), and the one-call ``ask``."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver

from nl2sql_agent.answer import Answer, StepEvent, Turn, Usage
from nl2sql_agent.context import RunContext
from nl2sql_agent.db.catalog import reflect_catalog
from nl2sql_agent.db.engine import make_engine
from nl2sql_agent.db.executor import ReadOnlyExecutor
from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.errors import CheckpointerError, Nl2SqlError, error_from_record
from nl2sql_agent.graph import build_graph, model_retry_policy
from nl2sql_agent.intent import schema_vocabulary
from nl2sql_agent.memory import make_checkpointer
from nl2sql_agent.models.factory import make_chat_model
from nl2sql_agent.questions import clean_question
from nl2sql_agent.retrieval import whole_schema
from nl2sql_agent.safety import SqlPolicy
from nl2sql_agent.settings import Settings
from nl2sql_agent.startup import check_read_only
from nl2sql_agent.usage import UsageRecorder
from nl2sql_agent.visibility import permitted_catalog

# Keys of a node's update that are safe and small enough to show in progress events and SSE.
_EVENT_KEYS = ("intent", "tables", "draft", "sql", "attempts", "status", "answer", "truncated", "error")
_CHECKPOINT_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error,)
try:  # psycopg is an optional dependency (the postgres extra)
    import psycopg

    _CHECKPOINT_ERRORS = (*_CHECKPOINT_ERRORS, psycopg.Error)
except ImportError:  # pragma: no cover
    pass


def resolve_db_url(settings: Settings) -> str:
    """The database URL to question: the configured one, or the bundled sample database (built on first use)."""
    if settings.db_url:
        return settings.db_url
    from nl2sql_agent.sample_db import ensure_sample_sqlite

    return f"sqlite:///{ensure_sample_sqlite(settings.data_dir / 'sample_retail.sqlite')}"


class Agent:
    """A text-to-SQL agent bound to one database, its models and its conversation memory.

    Example:
        >>> from nl2sql_agent import Agent, Settings
        >>> from nl2sql_agent.models.fake import FakeChatModel, FakeRule
        >>> model = FakeChatModel(rules=[FakeRule("SELECT COUNT(*) AS n FROM regions", role="sql")])
        >>> with Agent.from_settings(Settings(checkpointer_url="memory"), model=model) as agent:
        ...     agent.ask("How many regions are there?").rows
        ((5,),)
    """

    def __init__(
        self,
        *,
        settings: Settings,
        executor: ReadOnlyExecutor,
        catalog: SchemaCatalog,
        sql_model: BaseChatModel,
        small_model: BaseChatModel | None = None,
        checkpointer: BaseCheckpointSaver[str] | None = None,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.catalog = catalog
        self.sql_model = sql_model
        self.small_model = small_model or sql_model
        retry = model_retry_policy(attempts=settings.model_retries + 1, initial_interval_s=settings.retry_initial_s)
        self._graph = build_graph(checkpointer=checkpointer, retry_policy=retry)
        # Questions without a thread keep nothing, so they run on a graph without memory.
        self._stateless = build_graph(retry_policy=retry)
        # Async runs go to a pool of reused threads: starting a thread per run cost more than a tenth
        # of the agent's own overhead. Threads start only as concurrent runs need them.
        self._runs = ThreadPoolExecutor(max_workers=settings.max_concurrent_runs, thread_name_prefix="nl2sql-run")
        self._closers: list[Any] = [lambda: self._runs.shutdown(wait=False, cancel_futures=True)]
        self._contexts = lru_cache(maxsize=64)(self._make_context)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        model: BaseChatModel | None = None,
        small_model: BaseChatModel | None = None,
        checkpointer: BaseCheckpointSaver[str] | None = None,
    ) -> Agent:
        """Open the database, reflect its schema, create the models and the conversation memory."""
        engine = make_engine(resolve_db_url(settings), statement_timeout_s=settings.statement_timeout_s)
        try:
            # Before anything else: an engine that can write is refused (or loudly reported) at start-up.
            check_read_only(engine, settings.read_only_check, check_privileges=settings.require_readonly_role)
            catalog = reflect_catalog(engine)
            api_key = settings.api_key.get_secret_value() if settings.api_key else None
            base_url = settings.local_base_url if settings.model.startswith("local") else settings.base_url
            sql_model = model or make_chat_model(
                settings.model, base_url=base_url, api_key=api_key, timeout_s=settings.model_timeout_s
            )
            if small_model is None and settings.small_model and model is None:
                small_model = make_chat_model(
                    settings.small_model, base_url=base_url, api_key=api_key, timeout_s=settings.model_timeout_s
                )
            closer = None
            if checkpointer is None:
                checkpointer, closer = make_checkpointer(settings.checkpointer_url, data_dir=settings.data_dir)
        except BaseException:
            engine.dispose()
            raise
        agent = cls(
            settings=settings,
            executor=ReadOnlyExecutor(engine),
            catalog=catalog,
            sql_model=sql_model,
            small_model=small_model,
            checkpointer=checkpointer,
        )
        agent._closers += [engine.dispose] + ([closer] if closer else [])
        return agent

    def _make_context(self, policy: SqlPolicy, today: dt.date) -> RunContext:
        catalog = permitted_catalog(self.catalog, policy)
        return RunContext(
            sql_model=self.sql_model,
            small_model=self.small_model,
            executor=self.executor,
            catalog=catalog,
            db_catalog=self.catalog,
            policy=policy,
            today=today,
            vocabulary=schema_vocabulary(catalog),
            max_repairs=self.settings.max_repairs,
            max_tables=self.settings.max_tables,
            whole_schema=whole_schema(catalog, budget_chars=self.settings.schema_budget_chars),
            statement_timeout_s=self.settings.statement_timeout_s,
            max_query_cost=self.settings.max_query_cost,
            summarize_with_model=self.settings.summarize_with_model,
            intent_model_check=self.settings.intent_model_check,
        )

    def context(self, policy: SqlPolicy | None = None) -> RunContext:
        """The run context for a caller with ``policy`` (default: everything, capped at ``settings.max_rows``)."""
        policy = policy or SqlPolicy(max_rows=self.settings.max_rows)
        return self._contexts(policy, self.settings.today or dt.date.today())

    def stream(
        self,
        question: str,
        *,
        thread_id: str | None = None,
        policy: SqlPolicy | None = None,
        evidence: str | None = None,
    ) -> Iterator[StepEvent | Answer]:
        """Run one question, yielding a :class:`StepEvent` per graph step and finally the :class:`Answer`.

        Raises the typed :class:`~nl2sql_agent.errors.Nl2SqlError` of a failed run (its ``answer``
        attribute holds what the run produced: usage, timings, the last SQL tried).
        """
        cleaned = clean_question(question, max_chars=self.settings.max_question_chars)
        context = self.context(policy)
        recorder = UsageRecorder()
        config: dict[str, Any] = {"callbacks": [recorder], "recursion_limit": 25 + 3 * self.settings.max_repairs}
        graph, durability = self._stateless, None
        if thread_id is not None:
            config["configurable"] = {"thread_id": thread_id}
            # The thread's checkpoint is written once, when the run ends: a failed run leaves the
            # conversation as it was, and a run pays for one write instead of one per step.
            graph, durability = self._graph, "exit"
        timings: dict[str, float] = {}
        final: dict[str, Any] = {}
        started = last = time.perf_counter()
        inputs = {"question": cleaned, "evidence": evidence}
        try:
            for chunk in graph.stream(inputs, config, context=context, stream_mode="updates", durability=durability):
                now = time.perf_counter()
                for node, update in chunk.items():
                    elapsed = (now - last) * 1000
                    timings[node] = timings.get(node, 0.0) + elapsed
                    # Output keys have no reducers, so the last write of each is the run's output.
                    final.update(update or {})
                    shown = {k: v for k, v in (update or {}).items() if k in _EVENT_KEYS}
                    yield StepEvent(node=node, elapsed_ms=round(elapsed, 3), update=shown)
                last = now
        except Nl2SqlError as exc:
            exc.answer = self._answer(cleaned, final, recorder.usage, timings, thread_id, status="error")
            raise
        except _CHECKPOINT_ERRORS as exc:
            raise CheckpointerError(f"conversation memory failed: {exc}") from exc
        timings["total"] = (time.perf_counter() - started) * 1000
        answer = self._answer(cleaned, final, recorder.usage, timings, thread_id)
        if answer.status == "error" and answer.error:
            error = error_from_record(answer.error["code"], answer.error["message"], answer.error.get("details"))
            error.answer = answer
            raise error
        yield answer

    def ask(
        self,
        question: str,
        *,
        thread_id: str | None = None,
        policy: SqlPolicy | None = None,
        evidence: str | None = None,
    ) -> Answer:
        """Answer one question (a follow-up when ``thread_id`` names an earlier conversation).

        Returns an :class:`Answer` with ``status`` ``answered`` or ``refused``; raises a typed
        :class:`~nl2sql_agent.errors.Nl2SqlError` when it cannot answer.
        """
        result: Answer | None = None
        for item in self.stream(question, thread_id=thread_id, policy=policy, evidence=evidence):
            if isinstance(item, Answer):
                result = item
        assert result is not None  # stream always ends with an Answer or raises
        return result

    async def aask(
        self,
        question: str,
        *,
        thread_id: str | None = None,
        policy: SqlPolicy | None = None,
        evidence: str | None = None,
    ) -> Answer:
        """:meth:`ask` without blocking the event loop (the graph runs in a worker thread)."""
        loop = asyncio.get_running_loop()
        run = functools.partial(self.ask, question, thread_id=thread_id, policy=policy, evidence=evidence)
        return await loop.run_in_executor(self._runs, run)

    async def astream(
        self,
        question: str,
        *,
        thread_id: str | None = None,
        policy: SqlPolicy | None = None,
        evidence: str | None = None,
    ) -> AsyncIterator[StepEvent | Answer]:
        """:meth:`stream` for async code: events arrive as each step finishes."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def produce() -> None:
            try:
                for item in self.stream(question, thread_id=thread_id, policy=policy, evidence=evidence):
                    loop.call_soon_threadsafe(queue.put_nowait, ("item", item))
            except BaseException as exc:  # noqa: BLE001  # re-raised in the consumer
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            else:
                loop.call_soon_threadsafe(queue.put_nowait, ("done", None))

        self._runs.submit(produce)
        while True:
            kind, payload = await queue.get()
            if kind == "item":
                yield payload
            elif kind == "error":
                raise payload
            else:
                return

    def history(self, thread_id: str) -> list[Turn]:
        """The remembered turns of a conversation, oldest first."""
        try:
            snapshot = self._graph.get_state({"configurable": {"thread_id": thread_id}})
        except _CHECKPOINT_ERRORS as exc:
            raise CheckpointerError(f"conversation memory failed: {exc}") from exc
        turns = snapshot.values.get("turns", []) if snapshot else []
        return [Turn(t["question"], t["answer"], t.get("sql"), t.get("status", "answered")) for t in turns]

    def close(self) -> None:
        """Release the database engine and the conversation memory."""
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def _answer(
        question: str,
        final: dict[str, Any],
        usage: Usage,
        timings: dict[str, float],
        thread_id: str | None,
        *,
        status: str | None = None,
    ) -> Answer:
        return Answer(
            status=status or final.get("status", "error"),  # type: ignore[arg-type]
            question=question,
            answer=final.get("answer", ""),
            sql=final.get("sql"),
            columns=tuple(final.get("columns") or ()),
            rows=tuple(tuple(r) for r in final.get("rows") or ()),
            truncated=bool(final.get("truncated", False)),
            error=final.get("error"),
            usage=usage,
            timings_ms={k: round(v, 3) for k, v in timings.items()},
            thread_id=thread_id,
            attempts=int(final.get("attempts", 0) or 0),
        )


def ask(
    question: str,
    *,
    db: str | None = None,
    model: str | BaseChatModel | None = None,
    thread_id: str | None = None,
    settings: Settings | None = None,
) -> Answer:
    """Answer one question in one call: opens an :class:`Agent`, asks, closes it.

    Args:
        question: the question in plain language.
        db: SQLAlchemy URL; default the bundled sample database.
        model: a model spec (``local``, ``openai:gpt-4o-mini``, ...) or a LangChain chat model.
        thread_id: continue this conversation (memory persists in the settings' checkpointer).
        settings: everything else; ``db``/``model`` override its fields.
    """
    settings = settings or Settings()
    overrides: dict[str, Any] = {}
    if db is not None:
        overrides["db_url"] = db
    if isinstance(model, str):
        overrides["model"] = model
    if overrides:
        settings = Settings(**{**settings.model_dump(), **overrides})
    with Agent.from_settings(settings, model=model if isinstance(model, BaseChatModel) else None) as agent:
        return agent.ask(question, thread_id=thread_id)
