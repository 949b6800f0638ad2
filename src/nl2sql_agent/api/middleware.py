"""One pure-ASGI middleware: request id in and out, bounded bodies, an access log line and HTTP metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) so Server-Sent Events stream through untouched.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nl2sql_agent.api.errors import error_payload
from nl2sql_agent.api.logs import request_id_var
from nl2sql_agent.api.metrics import Metrics

access_log = logging.getLogger("nl2sql_agent.api.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Adds ``X-Request-ID``, refuses bodies over ``max_body_bytes`` (413), logs and counts each request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = declared = ""
        for name, value in scope.get("headers", ()):  # ASGI header names are lower-case bytes
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"content-length":
                declared = value.decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode("latin-1"))],
                }
            await send(message)

        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # An HTTPException passes FastAPI's body parsing unchanged and reaches our handler.
                    raise HTTPException(413, f"request body is larger than {self.max_body_bytes} bytes")
            return message

        try:
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._too_large(send_with_id, state)
                return
            await self.app(scope, bounded_receive, send_with_id)
        except Exception:
            if not response_started:
                status = 500
            raise
        finally:
            self._record(scope, state, status, time.perf_counter() - started)
            request_id_var.reset(token)

    async def _too_large(self, send: Send, state: dict[str, Any]) -> None:
        state["error_code"] = "payload_too_large"
        body = json.dumps(
            error_payload("payload_too_large", f"request body is larger than {self.max_body_bytes} bytes")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, state: dict[str, Any], status: int, elapsed_s: float) -> None:
        route = scope.get("route")
        # The route template, never the raw path: raw paths carry thread ids and would explode label sets.
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.requests.labels(scope["method"], template, str(status)).inc()
        self.metrics.latency.labels(template).observe(elapsed_s)
        error_code = state.get("error_code")
        if error_code:
            self.metrics.errors.labels(error_code).inc()
        access_log.info(
            "request",
            extra={
                "request_id": state.get("request_id"),
                "method": scope["method"],
                "path": scope.get("path", ""),  # no query string: it may carry a question
                "route": template,
                "status": status,
                "duration_ms": round(elapsed_s * 1000, 2),
                "principal": state.get("principal_id"),
                "error_code": error_code,
                "cached": state.get("cached"),
            },
        )
