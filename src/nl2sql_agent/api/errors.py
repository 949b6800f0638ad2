"""Every failure becomes ``{"error": {"code", "message", "details"}}`` with a status that says what happened.

Library errors keep their stable :class:`ErrorCode`; the service adds a few codes of its own
(``unauthorized``, ``not_found``, ``invalid_request``, ``payload_too_large``, ``request_timeout``,
``internal``). Only a bug gives a 500, and its body never carries the exception text.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from nl2sql_agent.auth import AuthenticationError
from nl2sql_agent.errors import ErrorCode, Nl2SqlError, RateLimitedError

log = logging.getLogger(__name__)

STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.CONFIGURATION: 500,
    ErrorCode.INVALID_QUESTION: 422,
    ErrorCode.SQL_VALIDATION: 422,
    ErrorCode.UNSAFE_SQL: 403,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.DATABASE_UNAVAILABLE: 503,
    ErrorCode.QUERY_FAILED: 422,
    ErrorCode.QUERY_TIMEOUT: 504,
    ErrorCode.QUERY_TOO_EXPENSIVE: 422,
    ErrorCode.MODEL_UNAVAILABLE: 503,
    ErrorCode.MODEL_TIMEOUT: 503,
    ErrorCode.MODEL_OUTPUT: 502,
    ErrorCode.CHECKPOINTER: 503,
    ErrorCode.BUDGET_EXCEEDED: 402,
    ErrorCode.RATE_LIMITED: 429,
}


class ApiError(Exception):
    """A service-level failure that is not a library error (unknown thread, body too large, ...)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})


def error_payload(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON error body."""
    return {"error": {"code": code, "message": message, "details": jsonable_encoder(details or {})}}


def status_for(exc: Nl2SqlError) -> int:
    """The HTTP status of a library error."""
    return STATUS_BY_CODE.get(exc.code, 500)


def nl2sql_error_response(exc: Nl2SqlError) -> JSONResponse:
    """The response for a library error, with ``Retry-After`` for rate limits."""
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return JSONResponse(
        error_payload(str(exc.code), exc.message, exc.details), status_code=status_for(exc), headers=headers
    )


def _set_error_code(request: Request, code: str) -> None:
    request.state.error_code = code  # read by the access log and metrics


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every failure the common error shape."""

    @app.exception_handler(Nl2SqlError)
    async def _library_error(request: Request, exc: Nl2SqlError) -> JSONResponse:
        _set_error_code(request, str(exc.code))
        return nl2sql_error_response(exc)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        _set_error_code(request, exc.code)
        return JSONResponse(error_payload(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(AuthenticationError)
    async def _unauthorized(request: Request, exc: AuthenticationError) -> JSONResponse:
        _set_error_code(request, "unauthorized")
        return JSONResponse(
            error_payload("unauthorized", str(exc)),
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="nl2sql"'},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        _set_error_code(request, "invalid_request")
        # Drop the offending input from the echo: it may be large or sensitive.
        issues = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return JSONResponse(
            error_payload("invalid_request", "the request does not match the schema", {"issues": issues}),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 400 is FastAPI's answer to a body that is not JSON at all: the same family as a 422.
        code = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        _set_error_code(request, code)
        return JSONResponse(error_payload(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        _set_error_code(request, "internal")
        log.error("unhandled error", exc_info=exc)
        return JSONResponse(
            error_payload("internal", "internal server error; quote the request id when reporting it"),
            status_code=500,
        )
