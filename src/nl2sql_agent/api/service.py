"""The request flow behind the endpoints: limit, budget, cache, agent, accounting. No HTTP in here.

Order matters: the rate limit and the budget are checked before anything is spent, and a cached
answer is served before the agent (and so the model) is touched at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from nl2sql_agent.answer import Answer, StepEvent, Turn, Usage
from nl2sql_agent.api.admission import Admission
from nl2sql_agent.api.errors import ApiError, status_for
from nl2sql_agent.api.metrics import Metrics
from nl2sql_agent.api.verified import VerifiedStore
from nl2sql_agent.auth import Authenticator, Principal
from nl2sql_agent.cache import AnswerCache, SharedRedis, question_cache_key
from nl2sql_agent.costs import Price, UsageLedger
from nl2sql_agent.db.executor import to_json_value
from nl2sql_agent.errors import Nl2SqlError, PermissionDeniedError
from nl2sql_agent.safety.policy import SqlPolicy
from nl2sql_agent.settings import Settings

log = logging.getLogger(__name__)

try:  # optional: a faster encoder of the same JSON
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]


class AgentLike(Protocol):
    """The part of :class:`nl2sql_agent.Agent` the service uses."""

    def astream(
        self,
        question: str,
        *,
        thread_id: str | None = ...,
        policy: SqlPolicy | None = ...,
        evidence: str | None = ...,
    ) -> AsyncIterator[StepEvent | Answer]:
        """Yield step events, then the answer."""
        ...

    def history(self, thread_id: str) -> list[Turn]:
        """The turns of a conversation."""
        ...


@dataclass
class Services:
    """Everything a request needs, built once per app in the lifespan."""

    settings: Settings
    agent: AgentLike
    authenticator: Authenticator
    admission: Admission
    """The rate limit and, for one-off questions, the answer cache (one Redis round trip)."""
    ledger: UsageLedger
    cache: AnswerCache
    price: Price
    model_id: str
    """What the answer cache keys on for "which model and configuration answered"."""
    model_label: str
    """The model spec shown in responses."""
    data_version: str
    default_budget_usd: float | None
    cache_shared_by_policy: bool
    request_timeout_s: float
    metrics: Metrics
    verified: VerifiedStore
    redis: SharedRedis | None = None


def internal_thread_id(principal: Principal, thread_id: str) -> str:
    """The checkpointer's thread id: namespaced per principal, so nobody can reach another's thread."""
    return f"{principal.namespace}.{thread_id}"


def config_fingerprint(settings: Settings, agent: object) -> str:
    """Hash of the settings that shape answers plus the model actually in use (secrets excluded)."""
    dumped = settings.model_dump(mode="json", exclude={"api_key", "data_dir"})
    model = getattr(agent, "sql_model", None)
    dumped["_model_name"] = str(getattr(model, "model_name", None) or getattr(model, "model", None) or "")
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:32]


def catalog_fingerprint(agent: object) -> str:
    """Hash of the reflected schema (tables, columns, types), so a schema change invalidates the cache."""
    catalog = getattr(agent, "catalog", None)
    if catalog is None:
        return "unknown"
    shape = sorted((key, [(c.name, c.type) for c in table.columns]) for key, table in catalog.tables.items())
    return hashlib.sha256(json.dumps([catalog.dialect, shape]).encode()).hexdigest()[:32]


def response_body(
    answer: Answer, *, thread_id: str | None, cost_usd: float, cached: bool, model: str
) -> dict[str, Any]:
    """The JSON body of an answer (what ``AskResponse`` documents)."""
    usage = answer.usage
    return {
        "status": answer.status,
        "question": answer.question,
        "answer": answer.answer,
        "sql": answer.sql,
        "columns": list(answer.columns),
        "rows": [[to_json_value(v) for v in row] for row in answer.rows],
        "truncated": answer.truncated,
        "thread_id": thread_id,
        "attempts": answer.attempts,
        "timings_ms": dict(answer.timings_ms),
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "llm_calls": usage.llm_calls,
            "cost_usd": round(cost_usd, 9),
        },
        "cached": cached,
        "model": model,
    }


_ZERO_USAGE = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "llm_calls": 0, "cost_usd": 0.0}


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON (orjson when installed: several times faster on large result sets)."""
    if _orjson is not None:
        try:
            return bytes(_orjson.dumps(value, default=to_json_value))
        except TypeError:  # orjson.JSONEncodeError: e.g. an integer wider than 64 bits
            pass
    return json.dumps(value, default=to_json_value, ensure_ascii=False, separators=(",", ":")).encode()


def hit_body(body: dict[str, Any]) -> bytes:
    """What a later cache hit of ``body`` sends, encoded once: no usage, no timings, ``cached`` true."""
    return dump_json({**body, "usage": dict(_ZERO_USAGE), "cached": True, "timings_ms": {}})


def hit_status(hit: bytes) -> str:
    """The ``status`` of a cached body without decoding it (``response_body`` puts ``status`` first)."""
    for status in ("answered", "refused"):
        if hit.startswith(b'{"status":"' + status.encode() + b'"'):
            return status
    return str(json.loads(hit).get("status", "answered"))


class AskFlow:
    """One question from an authenticated principal, from admission to accounting."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def check_rate(self, principal: Principal) -> None:
        """Count the request against the caller's rate limit (429 when over)."""
        await self.s.admission.admit(principal.id)

    async def admit_one_off(self, principal: Principal, question: str, evidence: str | None) -> bytes | None:
        """Count a one-off question against the rate limit and return its cached answer body, if any.

        A hit is already counted as a (free) request in the caller's usage; a cached answer is served
        even when the budget is spent: it costs nothing.
        """
        hit = await self.s.admission.admit_cached(principal.id, self.cache_key(principal, question, evidence))
        self.s.metrics.cache.labels("miss" if hit is None else "hit").inc()
        if hit is not None:
            self.s.metrics.answers.labels(hit_status(hit)).inc()
        return hit

    async def check_budget(self, principal: Principal) -> None:
        """Refuse new model work once the caller's daily budget is spent (402), before spending anything."""
        budget = principal.daily_budget_usd if principal.daily_budget_usd is not None else self.s.default_budget_usd
        await self.s.ledger.check_budget(principal.id, budget)

    def cache_key(self, principal: Principal, question: str, evidence: str | None) -> str:
        """The answer-cache key of a one-off question for this principal."""
        # Identical policies see identical data, so sharing is safe when enabled; by default each
        # principal has its own entries, so an answer never crosses principals at all.
        scope = principal.policy_fingerprint
        if not self.s.cache_shared_by_policy:
            scope = f"{principal.id}|{scope}"
        return question_cache_key(
            question=question,
            evidence=evidence,
            policy_fingerprint=scope,
            data_version=self.s.data_version,
            model_id=self.s.model_id,
        )

    async def require_thread(self, principal: Principal, thread_id: str) -> list[Turn]:
        """The principal's turns in ``thread_id``; 404 when the principal has no such thread."""
        turns = await asyncio.to_thread(self.s.agent.history, internal_thread_id(principal, thread_id))
        if not turns:
            raise ApiError(404, "not_found", f"no conversation {thread_id!r} for this caller", {"thread_id": thread_id})
        return turns

    async def answer(
        self, principal: Principal, question: str, *, thread_id: str | None, evidence: str | None
    ) -> dict[str, Any]:
        """Run the agent for an admitted question that the cache could not serve; the JSON response body."""
        await self.check_budget(principal)
        internal = internal_thread_id(principal, thread_id) if thread_id else None
        try:
            answer = await asyncio.wait_for(
                self._run(principal, question, internal, evidence), timeout=self.s.request_timeout_s
            )
        except TimeoutError as exc:
            raise _timeout(self.s.request_timeout_s) from exc
        except Nl2SqlError as exc:
            await self._account_failure(principal, exc)
            raise
        return await self.finish(principal, answer, thread_id=thread_id, evidence=evidence)

    async def _run(self, principal: Principal, question: str, internal: str | None, evidence: str | None) -> Answer:
        # astream rather than aask: the intent step says whether a refusal was about the caller's policy.
        intent: str | None = None
        async for item in self.s.agent.astream(
            question, thread_id=internal, policy=principal.policy, evidence=evidence
        ):
            if isinstance(item, StepEvent):
                intent = item.update.get("intent", intent)
            else:
                raise_if_not_permitted(item, intent)
                return item
        raise RuntimeError("the agent's stream ended without an answer")

    async def finish(
        self, principal: Principal, answer: Answer, *, thread_id: str | None, evidence: str | None
    ) -> dict[str, Any]:
        """Count usage and cost, cache one-off answers, and build the response body."""
        cost = self.s.price.cost_usd(answer.usage)
        await self.s.ledger.add(principal.id, answer.usage, cost)
        self._count(answer.usage, cost)
        self.s.metrics.answers.labels(answer.status).inc()
        body = response_body(answer, thread_id=thread_id, cost_usd=cost, cached=False, model=self.s.model_label)
        if thread_id is None and answer.status in ("answered", "refused"):
            await self.s.cache.set(self.cache_key(principal, answer.question, evidence), hit_body(body))
        return body

    async def stream(
        self,
        principal: Principal,
        question: str,
        *,
        thread_id: str | None,
        evidence: str | None,
        request_id: str,
        hit: bytes | None = None,
    ) -> AsyncIterator[str]:
        """Server-Sent Events: ``start``, one ``step`` per graph node as it finishes, then ``answer``.

        A failure after the stream started arrives as an ``error`` event carrying the HTTP status the
        same failure would have had as a plain response. Admission (rate limit, cache lookup giving
        ``hit``, budget) happens before the stream starts, so refusals keep their HTTP status.
        """
        yield sse("start", {"request_id": request_id, "thread_id": thread_id, "cached": hit is not None})
        if hit is not None:
            yield f"event: answer\ndata: {hit.decode()}\n\n"  # compact JSON: a single line
            return
        internal = internal_thread_id(principal, thread_id) if thread_id else None
        items = self.s.agent.astream(question, thread_id=internal, policy=principal.policy, evidence=evidence)
        deadline = asyncio.get_running_loop().time() + self.s.request_timeout_s
        intent: str | None = None
        try:
            # A deadline per await, not asyncio.timeout() around the loop: a timeout must never fire
            # while this generator is suspended at a yield and the response is writing to the client.
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    item = await asyncio.wait_for(anext(items), remaining)
                except StopAsyncIteration:
                    break
                if isinstance(item, StepEvent):
                    intent = item.update.get("intent", intent)
                    self.s.metrics.steps.labels(item.node).inc()
                    yield sse("step", {"node": item.node, "elapsed_ms": item.elapsed_ms, "update": item.update})
                else:
                    raise_if_not_permitted(item, intent)
                    body = await self.finish(principal, item, thread_id=thread_id, evidence=evidence)
                    yield sse("answer", body)
        except TimeoutError:
            error = _timeout(self.s.request_timeout_s)
            yield sse(
                "error",
                {
                    "status": error.status,
                    "error": {"code": error.code, "message": error.message, "details": error.details},
                },
            )
        except Nl2SqlError as exc:
            await self._account_failure(principal, exc)
            yield sse("error", {"status": status_for(exc), "error": exc.to_dict()})
        except Exception as exc:  # noqa: BLE001  # headers are sent: a bug can only be reported in-band
            log.error("stream failed", exc_info=exc)
            yield sse(
                "error",
                {"status": 500, "error": {"code": "internal", "message": "internal server error", "details": {}}},
            )
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _account_failure(self, principal: Principal, exc: Nl2SqlError) -> None:
        # A failed run may still have spent tokens (e.g. three drafts that never validated): bill them.
        partial = getattr(exc, "answer", None)
        usage = partial.usage if isinstance(partial, Answer) else Usage()
        cost = self.s.price.cost_usd(usage)
        await self.s.ledger.add(principal.id, usage, cost)
        self._count(usage, cost)

    def _count(self, usage: Usage, cost: float) -> None:
        self.s.metrics.tokens.labels("input").inc(usage.input_tokens)
        self.s.metrics.tokens.labels("output").inc(usage.output_tokens)
        self.s.metrics.cost.inc(cost)


def raise_if_not_permitted(answer: Answer, intent: str | None) -> None:
    """A refusal because the question names data outside the caller's policy is a 403, not an answer."""
    if answer.status == "refused" and intent == "not_permitted":
        error = PermissionDeniedError(answer.answer)
        error.answer = answer  # usage of the run, billed like any failure
        raise error


def _timeout(limit_s: float) -> ApiError:
    return ApiError(504, "request_timeout", f"the request took longer than {limit_s:g}s", {"timeout_s": limit_s})


def sse(event: str, data: dict[str, Any]) -> str:
    """One Server-Sent Events frame."""
    return f"event: {event}\ndata: {dump_json(data).decode()}\n\n"
