"""The hot path: a repeated one-off question answered from the cache without going through FastAPI.

A cache hit does no agent work at all, so what is left of its cost is the web framework: routing,
dependency injection, body and response models. This ASGI middleware answers ``POST /v1/ask`` itself
when everything is already known in-process: a well-formed JSON body that ``AskRequest`` accepts, no
``thread_id``, and an API key this replica authenticated recently. It then admits the request (rate
limit, cache lookup and usage in one Redis round trip) and sends the stored answer bytes. Anything
else (unknown credentials, invalid bodies, conversations) goes to the endpoint unchanged, with the
body replayed; a miss goes there marked as already admitted, so it is counted once.

It sits inside :class:`~nl2sql_agent.api.middleware.RequestContextMiddleware`, so request ids, body
limits, access logs and metrics are the same for both paths.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nl2sql_agent.api.errors import nl2sql_error_response
from nl2sql_agent.api.schemas import AskRequest
from nl2sql_agent.api.service import AskFlow
from nl2sql_agent.errors import RateLimitedError

ASK_PATH = "/v1/ask"
ADMITTED = "nl2sql_admitted"
"""``request.state`` flag: the rate limit and the cache were already consulted for this request."""
_ROUTE = SimpleNamespace(path=ASK_PATH)  # what the access log and metrics label the request with


class CachedAnswerFastPath:
    """Serves cache hits of ``POST /v1/ask`` before routing; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a cache hit directly, or pass the request on (its body replayed)."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != ASK_PATH:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        services = getattr(scope["app"].state, "services", None)
        length = headers.get(b"content-length", b"")
        # Only plain JSON bodies of a declared size: chunked uploads and the like take the normal path.
        if (
            services is None
            or not length.isdigit()
            or not headers.get(b"content-type", b"").startswith(b"application/json")
        ):
            await self.app(scope, receive, send)
            return
        body, replay = await _read_body(receive)
        principal = services.authenticator.known(_text(headers.get(b"authorization")), _text(headers.get(b"x-api-key")))
        question = _one_off_question(body) if principal is not None else None
        if principal is None or question is None:
            await self.app(scope, replay, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["principal_id"] = principal.id
        scope["route"] = _ROUTE
        try:
            hit = await AskFlow(services).admit_one_off(principal, question.question, question.evidence)
        except RateLimitedError as exc:
            state["error_code"] = str(exc.code)
            await nl2sql_error_response(exc)(scope, replay, send)
            return
        state["cached"] = hit is not None
        if hit is None:
            state[ADMITTED] = True
            await self.app(scope, replay, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(hit)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": hit})


def _headers(scope: Scope) -> dict[bytes, bytes]:
    # ASGI header names are lower-case bytes; only a few are read, so no decoding up front.
    return dict(scope["headers"])


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _one_off_question(body: bytes) -> AskRequest | None:
    """The request if the endpoint would accept it as a one-off question; ``None`` otherwise."""
    try:
        request = AskRequest.model_validate_json(body)
    except ValidationError:
        return None  # the endpoint gives the usual 422
    return request if request.thread_id is None else None


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it over again to the next app."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: let the app see that
            pending: list[Message] = [message]
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            pending = []
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        if pending:
            return pending.pop()
        return await receive()

    return body, replay
