"""Schema-driven fuzzing of every operation in the OpenAPI spec (schemathesis, in-process over ASGI): no 5xx.

The app is the real one: the agent on the bundled sample database with the scripted fake model, API keys,
verified pairs and conversation memory in PostgreSQL, cache, rate limits and usage in Redis. Requests
carry a valid API key so the fuzzer gets past authentication into the handlers. Each operation gets
both schema-valid and schema-violating inputs (schemathesis' positive and negative modes).

Schemathesis' own pytest integration (``from_fixture`` + ``parametrize``) relies on pytest internals that
pytest 9 removed, so the operations are driven through its Python API with Hypothesis directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402  # hypothesis comes with schemathesis
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from nl2sql_agent.models.fake import FakeChatModel, FakeRule  # noqa: E402

from api_helpers import COUNT_SQL  # noqa: E402  # isort: skip

EXAMPLES_PER_OPERATION = 25
"""Bounded so the whole run stays well under a minute on 2 cores."""

OPERATIONS = [
    ("POST", "/v1/ask"),
    ("POST", "/v1/threads/{thread_id}/ask"),
    ("GET", "/v1/threads/{thread_id}"),
    ("GET", "/v1/ask/stream"),
    ("POST", "/v1/ask/stream"),
    ("POST", "/v1/verified"),
    ("GET", "/v1/verified"),
    ("GET", "/v1/usage"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
]
"""Listed by hand so each gets its own test id; ``test_every_operation_is_fuzzed`` keeps it complete."""


@pytest.fixture(scope="module")
def fuzz_target(
    sample_db_url: str, api_pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, str]]:
    """The app (schemathesis runs its lifespan) and a valid API key for it."""
    import redis

    from nl2sql_agent.agent import Agent
    from nl2sql_agent.api import ServiceSettings, create_app
    from nl2sql_agent.auth import create_api_key, make_key_store
    from nl2sql_agent.settings import Settings

    settings = Settings(
        model="fake",
        db_url=sample_db_url,
        checkpointer_url=api_pg_url,
        data_dir=tmp_path_factory.mktemp("fuzz"),
        retry_initial_s=0.0,
    )
    # Every SQL draft gets a valid query whatever the fuzzer asked: a "no scripted reply left" from the
    # fake would be a failure of the harness, not of the service.
    agent = Agent.from_settings(settings, model=FakeChatModel(rules=[FakeRule(COUNT_SQL, role="sql")]))
    store = make_key_store(api_pg_url)
    try:
        key = create_api_key(store, "fuzzer")
    finally:
        store.close()
    prefix = f"nl2sql_test_fuzz_{uuid.uuid4().hex[:10]}:"
    service = ServiceSettings(
        keys_url=api_pg_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        rate_limit_requests=10**6,
        log_level="WARNING",
    )
    try:
        yield create_app(settings, agent=agent, service_settings=service), key
    finally:
        schemathesis.python.asgi.shutdown_lifespans()
        agent.close()
        client = redis.Redis.from_url(redis_url)
        stale = list(client.scan_iter(match=prefix + "*", count=500))
        if stale:
            client.delete(*stale)
        client.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_target: tuple[Any, str]) -> Any:
    """The app's own OpenAPI document, loaded over ASGI."""
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_target[0])


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    documented = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


# Schemathesis' strategies draw from ``random`` internally, which Hypothesis reports as deprecated.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_operation_answers_5xx(method: str, path: str, api_schema: Any, fuzz_target: tuple[Any, str]) -> None:
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {fuzz_target[1]}"}
    cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in GenerationMode))

    @given(case=cases, keep_generated_credentials=st.integers(0, 4).map(lambda n: n == 0))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,  # no .hypothesis/ directory in the checkout
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any, keep_generated_credentials: bool) -> None:
        # The generator also invents credentials (mostly giving 401s); most cases get a valid key
        # instead, so they reach the handlers, and one in five keeps what was generated.
        generated = case.headers or {}
        if not keep_generated_credentials:
            case.headers = {k: v for k, v in generated.items() if k.lower() not in {"authorization", "x-api-key"}}
        response = case.call(headers=headers if not keep_generated_credentials or not generated else None)
        case.validate_response(response, checks=[not_a_server_error])

    fuzz()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/ask", {"question": "How many customers?", "thread_id": "t1", "evidence": "a\x00b"}),
        ("POST", "/v1/threads/t1/ask", {"question": "And\x00 stores?"}),
        ("POST", "/v1/verified", {"question": "q\x00", "sql": "SELECT 1"}),
        ("POST", "/v1/verified", {"question": "q", "sql": "SELECT 1", "note": "\x00"}),
        ("POST", "/v1/verified", {"question": "q", "sql": "SELECT '\x00'"}),
    ],
)
def test_nul_characters_are_refused_as_422_before_reaching_postgresql(
    method: str, path: str, body: dict[str, Any], fuzz_target: tuple[Any, str]
) -> None:
    """Found by the fuzzer: PostgreSQL text cannot hold NUL, which surfaced as a 503 (checkpoint) or a 500."""
    from fastapi.testclient import TestClient

    app, key = fuzz_target
    with TestClient(app) as client:
        response = client.request(method, path, json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_body_that_is_not_json_is_a_documented_400(fuzz_target: tuple[Any, str]) -> None:
    from fastapi.testclient import TestClient

    app, key = fuzz_target
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with TestClient(app) as client:
        response = client.post("/v1/ask", content=b"\xff{not json", headers=headers)
        documented = client.get("/openapi.json").json()["paths"]["/v1/ask"]["post"]["responses"]
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert "400" in documented


@pytest.mark.parametrize("sql", ['SELECT "unterminated', "SELECT 'x", "SELECT 1 +"])
def test_verified_sql_that_does_not_tokenize_is_a_422(sql: str, fuzz_target: tuple[Any, str]) -> None:
    """Found by the fuzzer: sqlglot's TokenError (not a ParseError) escaped as a 500."""
    from fastapi.testclient import TestClient

    app, key = fuzz_target
    with TestClient(app) as client:
        response = client.post(
            "/v1/verified", json={"question": "q", "sql": sql}, headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "sql_validation"
    assert "\x1b" not in error["message"]  # no terminal highlighting in an API message
