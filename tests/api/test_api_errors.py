"""Error mapping, auth, body limits, request ids and logs, with a tiny stand-in agent (no graph, no model)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_helpers import new_key, read_sse

from nl2sql_agent.answer import Answer, StepEvent, Turn
from nl2sql_agent.api.errors import STATUS_BY_CODE
from nl2sql_agent.api.logs import JsonFormatter
from nl2sql_agent.errors import (
    BudgetExceededError,
    CheckpointerError,
    DatabaseUnavailableError,
    ErrorCode,
    InvalidQuestionError,
    ModelOutputError,
    ModelTimeoutError,
    ModelUnavailableError,
    PermissionDeniedError,
    QueryExecutionError,
    QueryTimeoutError,
    QueryTooExpensiveError,
    RateLimitedError,
    SQLValidationError,
    UnsafeSQLError,
)


class StandInAgent:
    """Plays one scripted outcome: an exception to raise after the first step, or an answer."""

    def __init__(self, outcome: BaseException | Answer) -> None:
        self.outcome = outcome
        self.runs = 0

    async def astream(self, question: str, **_: Any) -> AsyncIterator[StepEvent | Answer]:
        self.runs += 1
        yield StepEvent("detect_intent", 0.1, {"intent": "data"})
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        yield self.outcome

    def history(self, thread_id: str) -> list[Turn]:
        return []


def test_every_error_code_has_a_status_and_only_misconfiguration_is_a_500() -> None:
    assert set(STATUS_BY_CODE) == set(ErrorCode)
    assert [c for c, status in STATUS_BY_CODE.items() if status >= 500 and status not in (502, 503, 504)] == [
        ErrorCode.CONFIGURATION
    ]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidQuestionError("empty question"), 422),
        (UnsafeSQLError("writes are not allowed", reasons=["DELETE"], sql="DELETE FROM t"), 403),
        (PermissionDeniedError("customers.email is hidden"), 403),
        (SQLValidationError("unknown column x", issues=["unknown column x"], sql="SELECT x"), 422),
        (DatabaseUnavailableError("cannot connect"), 503),
        (QueryExecutionError("no such function"), 422),
        (QueryTimeoutError("statement timeout"), 504),
        (QueryTooExpensiveError("cost 1e9"), 422),
        (ModelUnavailableError("connection refused"), 503),
        (ModelTimeoutError("no answer in 120s"), 503),
        (ModelOutputError("no SQL in reply"), 502),
        (CheckpointerError("memory is down"), 503),
        (BudgetExceededError("spent"), 402),
    ],
)
def test_library_errors_map_to_statuses_with_the_common_body(make_client: Any, error: Exception, status: int) -> None:
    client, app = make_client(agent=StandInAgent(error))
    response = client.post("/v1/ask", json={"question": "how many customers"}, headers=new_key(app, "alice"))
    assert response.status_code == status
    body = response.json()
    assert body == {
        "error": {
            "code": str(error.code),
            "message": error.message,  # type: ignore[attr-defined]
            "details": json.loads(json.dumps(error.details)),
        }
    }  # type: ignore[attr-defined]


def test_rate_limited_error_carries_retry_after(make_client: Any) -> None:
    client, app = make_client(agent=StandInAgent(RateLimitedError("slow down", retry_after_s=2.2)))
    response = client.post("/v1/ask", json={"question": "q"}, headers=new_key(app, "alice"))
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.json()["error"]["code"] == "rate_limited"


def test_a_bug_is_a_500_that_leaks_nothing(make_client: Any) -> None:
    client, app = make_client(agent=StandInAgent(RuntimeError("password=hunter2 in a traceback")))
    response = client.post("/v1/ask", json={"question": "q"}, headers=new_key(app, "alice"))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal"
    assert "hunter2" not in response.text


def test_credentials_are_required(make_client: Any) -> None:
    agent = StandInAgent(ModelOutputError("unused"))
    client, app = make_client(agent=agent)
    for headers in (
        {},
        {"Authorization": "Bearer nl2sql_not-a-key"},
        {"Authorization": "Basic YTpi"},
        {"X-API-Key": "nl2sql_nope"},
    ):
        response = client.post("/v1/ask", json={"question": "q"}, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for path in ("/v1/usage", "/v1/threads/t1", "/v1/verified"):
        assert client.get(path).status_code == 401
    assert agent.runs == 0
    key = new_key(app, "alice")["Authorization"].removeprefix("Bearer ")
    assert client.get("/v1/usage", headers={"X-API-Key": key}).status_code == 200


def test_bodies_are_bounded(make_client: Any) -> None:
    agent = StandInAgent(ModelOutputError("unused"))
    client, app = make_client(agent=agent, max_body_bytes=2048)
    headers = new_key(app, "alice")
    big = json.dumps({"question": "x" * 3000})
    response = client.post("/v1/ask", content=big, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Any:  # no Content-Length: the limit must hold while reading
        yield b'{"question": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    response = client.post("/v1/ask", content=chunks(), headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert agent.runs == 0


def test_invalid_requests_are_422_in_the_common_shape(make_client: Any) -> None:
    client, app = make_client(agent=StandInAgent(ModelOutputError("unused")))
    headers = new_key(app, "alice")
    for body in ({}, {"question": ""}, {"question": "q", "thread_id": "../etc/passwd"}, {"question": 3}):
        response = client.post("/v1/ask", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
    response = client.post("/v1/ask", content=b"{not json", headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert client.get("/v1/nothing-here").json()["error"]["code"] == "not_found"


def test_request_ids_go_in_and_out_and_logs_are_json_without_secrets(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, app = make_client(agent=StandInAgent(ModelOutputError("no SQL")))
    headers = new_key(app, "alice")
    with caplog.at_level(logging.INFO, logger="nl2sql_agent.api.access"):
        response = client.post(
            "/v1/ask", json={"question": "how many customers"}, headers={**headers, "X-Request-ID": "abc-123"}
        )
    assert response.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert len(generated) == 32 and " " not in generated
    [record] = [r for r in caplog.records if r.name == "nl2sql_agent.api.access" and r.path == "/v1/ask"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc-123"
    assert (line["status"], line["route"], line["principal"], line["error_code"]) == (
        502,
        "/v1/ask",
        "alice",
        "model_output",
    )
    rendered = json.dumps(line)
    assert headers["Authorization"].removeprefix("Bearer ") not in rendered
    assert "how many customers" not in rendered


def test_stream_errors_after_start_arrive_as_an_error_event(make_client: Any) -> None:
    client, app = make_client(agent=StandInAgent(ModelUnavailableError("connection refused")))
    with client.stream("POST", "/v1/ask/stream", json={"question": "q"}, headers=new_key(app, "alice")) as response:
        assert response.status_code == 200
        events = read_sse(response)
    assert [name for name, _ in events] == ["start", "step", "error"]
    assert events[-1][1]["status"] == 503
    assert events[-1][1]["error"]["code"] == "model_unavailable"
