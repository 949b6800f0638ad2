"""The versioned endpoints. Each is a few lines: the flow lives in :mod:`nl2sql_agent.api.service`."""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from nl2sql_agent.api.deps import PrincipalDep, ServicesDep
from nl2sql_agent.api.hotpath import ADMITTED
from nl2sql_agent.api.readiness import run_checks
from nl2sql_agent.api.schemas import (
    TEXT_PATTERN,
    THREAD_ID_PATTERN,
    AskRequest,
    AskResponse,
    ErrorResponse,
    ReadyOut,
    ThreadAskRequest,
    ThreadOut,
    TurnOut,
    UsageTodayOut,
    VerifiedOut,
    VerifiedRequest,
)
from nl2sql_agent.api.service import AskFlow
from nl2sql_agent.api.verified import check_read_only_sql
from nl2sql_agent.auth import Principal

_errors: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        400: "Malformed request body (not JSON)",
        401: "Missing or invalid credentials",
        402: "Daily budget spent",
        403: "The question needs data outside the caller's policy, or unsafe SQL",
        413: "Request body too large",
        422: "Invalid question or request, or SQL that could not be made valid",
        429: "Rate limited (see Retry-After)",
        502: "The model answered with no usable SQL",
        503: "Database, model or conversation memory unavailable",
        504: "Query or request timed out",
    }.items()
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such conversation for this caller"}
}
ThreadId = Annotated[str, Path(pattern=THREAD_ID_PATTERN, description="Conversation id")]
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

api = APIRouter(prefix="/v1", responses=_errors)
ops = APIRouter(tags=["operations"])


@api.post("/ask", response_model=AskResponse, tags=["questions"], summary="Ask a question")
async def ask(body: AskRequest, request: Request, principal: PrincipalDep, services: ServicesDep) -> Any:
    """Answer a question. Without ``thread_id`` it is a one-off: answers are cached per caller's policy,
    and a repeat costs no model call. With ``thread_id`` it starts or continues that conversation."""
    flow = AskFlow(services)
    if body.thread_id is None and not getattr(request.state, ADMITTED, False):  # else the hot path did it
        hit = await flow.admit_one_off(principal, body.question, body.evidence)
        request.state.cached = hit is not None
        if hit is not None:
            # Sent as stored: encoded once by AskFlow.finish from the response_body of the fresh answer.
            return Response(hit, media_type="application/json")
    elif body.thread_id is not None:
        await flow.check_rate(principal)
    return await flow.answer(principal, body.question, thread_id=body.thread_id, evidence=body.evidence)


@api.post(
    "/threads/{thread_id}/ask",
    response_model=AskResponse,
    tags=["conversations"],
    summary="Continue a conversation",
    responses=_NOT_FOUND,
)
async def continue_thread(
    thread_id: ThreadId, body: ThreadAskRequest, principal: PrincipalDep, services: ServicesDep
) -> dict[str, Any]:
    """A follow-up question in an existing conversation of the caller (404 for unknown or others' threads)."""
    flow = AskFlow(services)
    await flow.check_rate(principal)
    await flow.require_thread(principal, thread_id)
    return await flow.answer(principal, body.question, thread_id=thread_id, evidence=body.evidence)


@api.get(
    "/threads/{thread_id}",
    response_model=ThreadOut,
    tags=["conversations"],
    summary="Conversation history",
    responses=_NOT_FOUND,
)
async def get_thread(thread_id: ThreadId, principal: PrincipalDep, services: ServicesDep) -> ThreadOut:
    """The caller's conversation, oldest turn first (404 for unknown or others' threads)."""
    turns = await AskFlow(services).require_thread(principal, thread_id)
    return ThreadOut(
        thread_id=thread_id,
        turns=[TurnOut(question=t.question, answer=t.answer, sql=t.sql, status=t.status) for t in turns],
    )


async def _stream(
    request: Request,
    principal: Principal,
    services: ServicesDep,
    question: str,
    thread_id: str | None,
    evidence: str | None,
) -> StreamingResponse:
    flow = AskFlow(services)
    if thread_id is None:
        hit = await flow.admit_one_off(principal, question, evidence)
    else:
        await flow.check_rate(principal)
        hit = None
    request.state.cached = hit is not None
    if hit is None:
        await flow.check_budget(principal)
    events = flow.stream(
        principal, question, thread_id=thread_id, evidence=evidence, request_id=request.state.request_id, hit=hit
    )
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "Events: `start`, one `step` per graph node (`node`, `elapsed_ms`, `update`), "
        "then `answer` (an AskResponse) or `error` (`status` + error body).",
    }
}


@api.get(
    "/ask/stream",
    tags=["questions"],
    summary="Ask, streaming steps (SSE)",
    responses=_SSE_DOC,
    response_class=StreamingResponse,
)
async def ask_stream_get(
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    question: Annotated[str, Query(min_length=1, max_length=4000, pattern=TEXT_PATTERN)],
    thread_id: Annotated[str | None, Query(pattern=THREAD_ID_PATTERN)] = None,
    evidence: Annotated[str | None, Query(max_length=4000, pattern=TEXT_PATTERN)] = None,
) -> StreamingResponse:
    """Server-Sent Events for one question, one event per graph step as it happens, then the answer."""
    return await _stream(request, principal, services, question, thread_id, evidence)


@api.post(
    "/ask/stream",
    tags=["questions"],
    summary="Ask, streaming steps (SSE)",
    responses=_SSE_DOC,
    response_class=StreamingResponse,
)
async def ask_stream_post(
    body: AskRequest, request: Request, principal: PrincipalDep, services: ServicesDep
) -> StreamingResponse:
    """Like ``GET /v1/ask/stream`` with the question in a JSON body."""
    return await _stream(request, principal, services, body.question, body.thread_id, body.evidence)


@api.post(
    "/verified",
    response_model=VerifiedOut,
    status_code=201,
    tags=["verified"],
    summary="Save a verified question/SQL pair",
)
async def save_verified(body: VerifiedRequest, principal: PrincipalDep, services: ServicesDep) -> VerifiedOut:
    """Store SQL a person checked for a question. Only one read-only query is accepted."""
    await AskFlow(services).check_rate(principal)
    dialect = getattr(getattr(services.agent, "catalog", None), "dialect", "sqlite")
    sql = check_read_only_sql(body.sql, dialect=dialect)
    pair = await asyncio.to_thread(services.verified.add, principal.id, body.question.strip(), sql, body.note)
    return VerifiedOut(**pair.__dict__)


@api.get("/verified", response_model=list[VerifiedOut], tags=["verified"], summary="List my verified pairs")
async def list_verified(
    principal: PrincipalDep, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[VerifiedOut]:
    """The caller's verified pairs, newest first."""
    pairs = await asyncio.to_thread(services.verified.list, principal.id, limit=limit)
    return [VerifiedOut(**p.__dict__) for p in pairs]


@api.get("/usage", response_model=UsageTodayOut, tags=["usage"], summary="My usage today")
async def usage_today(principal: PrincipalDep, services: ServicesDep) -> UsageTodayOut:
    """Requests, tokens and dollars spent today (UTC), with the budget left."""
    usage = await services.ledger.get(principal.id)
    budget = principal.daily_budget_usd if principal.daily_budget_usd is not None else services.default_budget_usd
    return UsageTodayOut(
        principal_id=principal.id,
        day=usage.day.isoformat(),
        requests=usage.requests,
        cached_requests=usage.cached_requests,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        llm_calls=usage.llm_calls,
        cost_usd=round(usage.cost_usd, 9),
        budget_usd=budget,
        remaining_usd=None if budget is None else round(max(0.0, budget - usage.cost_usd), 9),
    )


@ops.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


@ops.get(
    "/readyz",
    response_model=ReadyOut,
    summary="Readiness",
    responses={503: {"model": ReadyOut, "description": "A dependency is not reachable"}},
)
async def readyz(request: Request, response: Response) -> dict[str, Any]:
    """Database, checkpointer, cache, key store and model, each reported; 503 unless all are ok."""
    checks = await run_checks(request.app.state.checks)
    ready = all(c["ok"] for c in checks.values())
    response.status_code = 200 if ready else 503
    return {"ready": ready, "checks": checks}


@ops.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@ops.get("/", include_in_schema=False, response_class=HTMLResponse)
async def chat_page() -> HTMLResponse:
    """The single-file chat page."""
    html = resources.files("nl2sql_agent.api").joinpath("static/index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
