"""The service end to end: the real Agent on the sample database, real Redis and PostgreSQL, a fake model."""

from __future__ import annotations

from typing import Any

import psycopg
from api_helpers import CLOSED_PORT_REDIS_URL, COUNT_SQL, fake_model, new_key, read_sse, sql_calls

from nl2sql_agent.models.fake import FakeRule

ASK = {"question": "How many customers are there?"}
PRICEY = {"fake": {"input_per_million": 1_000_000, "output_per_million": 1_000_000}}
"""A dollar per token, so that budgets bite after one question."""


def test_answer_carries_sql_rows_usage_and_cost(make_client: Any) -> None:
    client, app = make_client(prices=PRICEY)
    response = client.post("/v1/ask", json=ASK, headers=new_key(app, "alice"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "answered" and body["rows"] == [[3000]] and body["columns"] == ["customer_count"]
    assert "customers" in body["sql"] and body["cached"] is False and body["model"] == "fake"
    usage = body["usage"]
    assert usage["llm_calls"] >= 1 and usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["cost_usd"] == usage["total_tokens"]  # $1 per token


def test_repeated_question_costs_zero_model_calls(make_client: Any, redis_url: str, redis_prefix: str) -> None:
    model = fake_model()
    client, app = make_client(model=model, redis_url=redis_url, redis_prefix=redis_prefix)
    headers = new_key(app, "alice")
    first = client.post("/v1/ask", json=ASK, headers=headers).json()
    calls = len(model.calls)
    assert calls >= 1
    again = client.post("/v1/ask", json={"question": "  how many CUSTOMERS are there "}, headers=headers).json()
    assert len(model.calls) == calls  # zero model calls
    assert again["cached"] is True and again["usage"]["llm_calls"] == 0 and again["usage"]["cost_usd"] == 0
    for field in ("status", "answer", "sql", "columns", "rows"):
        assert again[field] == first[field]
    with client.stream("GET", "/v1/ask/stream", params=ASK, headers=headers) as response:
        events = read_sse(response)
    assert [e for e, _ in events] == ["start", "answer"] and events[1][1]["cached"] is True
    assert len(model.calls) == calls
    usage = client.get("/v1/usage", headers=headers).json()
    assert (usage["requests"], usage["cached_requests"]) == (3, 2)


def test_cache_never_crosses_principals_or_policies(make_client: Any, redis_url: str, redis_prefix: str) -> None:
    model = fake_model()
    client, app = make_client(model=model, redis_url=redis_url, redis_prefix=redis_prefix)
    client.post("/v1/ask", json=ASK, headers=new_key(app, "alice"))
    after_alice = sql_calls(model)
    bob = client.post("/v1/ask", json=ASK, headers=new_key(app, "bob")).json()
    assert bob["cached"] is False and sql_calls(model) == after_alice + 1

    # Sharing by policy is opt-in, and even then a different policy never shares.
    client, app = make_client(model=model, redis_url=redis_url, redis_prefix=redis_prefix, cache_shared_by_policy=True)
    narrow = {"hidden_columns": ["customers.email"]}
    assert client.post("/v1/ask", json=ASK, headers=new_key(app, "carol", policy=narrow)).json()["cached"] is False
    assert client.post("/v1/ask", json=ASK, headers=new_key(app, "dan", policy=narrow)).json()["cached"] is True
    assert client.post("/v1/ask", json=ASK, headers=new_key(app, "erin")).json()["cached"] is False


def test_threads_belong_to_their_principal(make_client: Any) -> None:
    model = fake_model(
        rules=[FakeRule("SELECT COUNT(*) AS store_count FROM stores", when="how many stores", role="sql")]
    )
    client, app = make_client(model=model)
    alice, bob = new_key(app, "alice"), new_key(app, "bob")
    first = client.post("/v1/ask", json={**ASK, "thread_id": "t1"}, headers=alice)
    assert first.status_code == 200 and first.json()["thread_id"] == "t1" and first.json()["rows"] == [[3000]]
    follow = client.post("/v1/threads/t1/ask", json={"question": "and how many stores?"}, headers=alice)
    assert follow.status_code == 200 and follow.json()["columns"] == ["store_count"]
    history = client.get("/v1/threads/t1", headers=alice).json()
    assert [t["question"] for t in history["turns"]] == ["How many customers are there?", "and how many stores?"]

    runs = len(model.calls)
    assert client.get("/v1/threads/t1", headers=bob).status_code == 404
    response = client.post("/v1/threads/t1/ask", json={"question": "what did alice ask?"}, headers=bob)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert len(model.calls) == runs
    # Bob may use the same id for a conversation of his own; it never sees Alice's turns.
    assert client.post("/v1/ask", json={**ASK, "thread_id": "t1"}, headers=bob).status_code == 200
    assert len(client.get("/v1/threads/t1", headers=bob).json()["turns"]) == 1
    assert len(client.get("/v1/threads/t1", headers=alice).json()["turns"]) == 2
    assert client.get("/v1/threads/never-made", headers=alice).status_code == 404


def test_rate_limit_gives_429_with_retry_after(make_client: Any, redis_url: str, redis_prefix: str) -> None:
    model = fake_model()
    client, app = make_client(
        model=model, redis_url=redis_url, redis_prefix=redis_prefix, rate_limit_requests=2, rate_limit_window_s=30
    )
    alice = new_key(app, "alice")
    assert client.post("/v1/ask", json=ASK, headers=alice).status_code == 200
    assert client.post("/v1/ask", json=ASK, headers=alice).status_code == 200
    calls = len(model.calls)
    refused = client.post("/v1/ask", json={"question": "how many customers in total"}, headers=alice)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
    assert client.get("/v1/ask/stream", params=ASK, headers=alice).status_code == 429
    assert len(model.calls) == calls
    assert client.post("/v1/ask", json=ASK, headers=new_key(app, "bob")).status_code == 200


def test_budget_refuses_before_spending(make_client: Any, redis_url: str, redis_prefix: str) -> None:
    model = fake_model()
    client, app = make_client(
        model=model, redis_url=redis_url, redis_prefix=redis_prefix, prices=PRICEY, daily_budget_usd=10.0
    )
    alice = new_key(app, "alice")
    spent = client.post("/v1/ask", json={**ASK, "thread_id": "b1"}, headers=alice).json()["usage"]["cost_usd"]
    assert spent > 10.0
    calls = len(model.calls)
    refused = client.post(
        "/v1/ask", json={"question": "how many customers do we have", "thread_id": "b1"}, headers=alice
    )
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded" and error["details"]["budget_usd"] == 10.0
    assert (
        client.post("/v1/ask/stream", json={"question": "how many customers, again"}, headers=alice).status_code == 402
    )
    assert len(model.calls) == calls  # refused before any model call
    usage = client.get("/v1/usage", headers=alice).json()
    assert usage["cost_usd"] == spent and usage["remaining_usd"] == 0
    # A principal's own budget overrides the default.
    rich = new_key(app, "rich", daily_budget_usd=1e9)
    assert client.post("/v1/ask", json={"question": "how many customers?"}, headers=rich).status_code == 200


def test_stream_sends_one_event_per_step_in_order_then_the_answer(make_client: Any) -> None:
    client, app = make_client()
    with client.stream(
        "POST", "/v1/ask/stream", json={**ASK, "thread_id": "s1"}, headers=new_key(app, "alice")
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response)
    names = [e for e, _ in events]
    assert names[0] == "start" and names[-1] == "answer" and set(names[1:-1]) == {"step"}
    nodes = [data["node"] for e, data in events if e == "step"]
    order = ["detect_intent", "retrieve_schema", "draft_sql", "check_sql", "execute_sql", "summarize_answer"]
    assert [n for n in nodes if n in order] == order
    draft = next(d for e, d in events if e == "step" and d["node"] == "draft_sql")
    assert draft["update"]["draft"] == COUNT_SQL
    assert events[-1][1]["rows"] == [[3000]] and events[-1][1]["thread_id"] == "s1"


def test_model_outage_is_a_503_after_retries(make_client: Any) -> None:
    model = fake_model(rules=[FakeRule(ConnectionError("connection refused"), role="sql")])
    client, app = make_client(model=model, settings={"model_retries": 2})
    response = client.post("/v1/ask", json=ASK, headers=new_key(app, "alice"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"
    assert sql_calls(model) == 3  # the first try and two retries


def test_dead_redis_still_answers(make_client: Any) -> None:
    model = fake_model()
    client, app = make_client(model=model, redis_url=CLOSED_PORT_REDIS_URL, rate_limit_requests=5)
    alice = new_key(app, "alice")
    for _ in range(2):
        response = client.post("/v1/ask", json=ASK, headers=alice)
        assert response.status_code == 200 and response.json()["cached"] is False
    assert sql_calls(model) == 2  # no cache while Redis is down, and no error either
    assert client.get("/v1/usage", headers=alice).json()["requests"] == 2  # counted in-process
    ready = client.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["cache"]["ok"] is False and checks["database"]["ok"] is True


def test_question_about_hidden_data_is_403(make_client: Any) -> None:
    model = fake_model()
    client, app = make_client(model=model)
    narrow = new_key(app, "intern", policy={"hidden_columns": ["customers.email"]})
    response = client.post("/v1/ask", json={"question": "What is the email of customer 7?"}, headers=narrow)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "customers.email" in response.json()["error"]["message"]
    assert sql_calls(model) == 0
    model_sql = FakeRule("SELECT email FROM customers WHERE customer_id = 7", when="email", role="sql")
    client, app = make_client(model=fake_model(rules=[model_sql]))
    answer = client.post("/v1/ask", json={"question": "What is the email of customer 7?"}, headers=new_key(app, "a"))
    assert answer.status_code == 200 and answer.json()["status"] == "answered"  # without the policy: fine


def test_verified_pairs_are_stored_in_postgres(make_client: Any, api_pg_url: str) -> None:
    client, app = make_client(keys_url=api_pg_url)
    alice = new_key(app, "alice")
    saved = client.post("/v1/verified", json={"question": "How many customers?", "sql": COUNT_SQL}, headers=alice)
    assert saved.status_code == 201 and saved.json()["principal_id"] == "alice"
    with psycopg.connect(api_pg_url) as conn:
        rows = conn.execute(
            "SELECT principal_id, question FROM nl2sql_verified WHERE id = %s", (saved.json()["id"],)
        ).fetchall()
    assert rows == [("alice", "How many customers?")]
    assert [p["id"] for p in client.get("/v1/verified", headers=alice).json()] == [saved.json()["id"]]
    assert client.get("/v1/verified", headers=new_key(app, "bob")).json() == []
    unsafe = client.post("/v1/verified", json={"question": "q", "sql": "DELETE FROM customers"}, headers=alice)
    assert unsafe.status_code == 403 and unsafe.json()["error"]["code"] == "unsafe_sql"
    two = client.post("/v1/verified", json={"question": "q", "sql": "SELECT 1; SELECT 2"}, headers=alice)
    assert two.status_code == 422 and two.json()["error"]["code"] == "sql_validation"


def test_operations_endpoints(make_client: Any, redis_url: str, redis_prefix: str, api_pg_url: str) -> None:
    client, app = make_client(redis_url=redis_url, redis_prefix=redis_prefix, keys_url=api_pg_url)
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert set(ready.json()["checks"]) == {"database", "checkpointer", "cache", "keys", "model"}
    client.post("/v1/ask", json=ASK, headers=new_key(app, "alice"))
    metrics = client.get("/metrics").text
    assert 'nl2sql_http_requests_total{method="POST",route="/v1/ask",status="200"} 1.0' in metrics
    assert 'nl2sql_answers_total{status="answered"} 1.0' in metrics
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "localStorage" in page.text and "/v1/ask/stream" in page.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/ask",
        "/v1/threads/{thread_id}/ask",
        "/v1/threads/{thread_id}",
        "/v1/ask/stream",
        "/v1/verified",
        "/v1/usage",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(paths)
    assert "402" in paths["/v1/ask"]["post"]["responses"]
