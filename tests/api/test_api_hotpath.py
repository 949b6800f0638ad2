"""The cache-hit hot path (served before FastAPI) and the in-process API key cache it relies on."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import fake_model, new_key, sql_calls

from nl2sql_agent.auth import AuthenticationError, Authenticator, MemoryKeyStore, create_api_key

ASK = {"question": "How many customers are there?"}


class CountingStore(MemoryKeyStore):
    """A real in-memory key store that counts lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def lookup(self, key_hash: str) -> Any:
        self.lookups += 1
        return super().lookup(key_hash)


async def test_known_keys_are_not_looked_up_again_until_their_ttl_ends() -> None:
    store = CountingStore()
    key = create_api_key(store, "alice")
    now = [0.0]
    auth = Authenticator(store, key_cache_ttl_s=30, clock=lambda: now[0])
    assert auth.known(f"Bearer {key}", None) is None  # nothing known before the first lookup
    assert (await auth.authenticate(f"Bearer {key}", None)).id == "alice"
    assert (await auth.authenticate(None, key)).id == "alice"
    assert auth.known(f"Bearer {key}", None) is not None and store.lookups == 1

    store.revoke(store.list()[0].key_prefix)
    now[0] = 29.0
    assert (await auth.authenticate(f"Bearer {key}", None)).id == "alice"  # trusted for the TTL ...
    now[0] = 31.0
    assert auth.known(f"Bearer {key}", None) is None
    with pytest.raises(AuthenticationError):  # ... then asked again, and refused
        await auth.authenticate(f"Bearer {key}", None)
    assert store.lookups == 2


async def test_a_zero_ttl_asks_the_store_every_time() -> None:
    store = CountingStore()
    key = create_api_key(store, "bob")
    auth = Authenticator(store, key_cache_ttl_s=0)
    for _ in range(3):
        await auth.authenticate(f"Bearer {key}", None)
    assert store.lookups == 3 and auth.known(f"Bearer {key}", None) is None


def test_hot_path_hits_limits_and_counts_each_request_once(make_client: Any, redis_url: str, redis_prefix: str) -> None:
    model = fake_model()
    client, app = make_client(
        model=model, redis_url=redis_url, redis_prefix=redis_prefix, rate_limit_requests=3, rate_limit_window_s=60
    )
    alice = new_key(app, "alice")
    # 1: unknown key, so the full path: counted, a miss, answered (and the key is now known).
    first = client.post("/v1/ask", json=ASK, headers=alice)
    assert first.status_code == 200 and first.json()["cached"] is False
    # 2: the hot path admits a new question and hands it on as a miss; it must not be counted twice.
    other = client.post("/v1/ask", json={"question": "How many customers are there in total?"}, headers=alice)
    assert other.status_code == 200 and other.json()["cached"] is False
    # 3: a hit served by the hot path, the same answer with zero model calls.
    calls = sql_calls(model)
    hit = client.post("/v1/ask", json=ASK, headers=alice)
    assert hit.status_code == 200 and sql_calls(model) == calls
    assert hit.headers["content-type"] == "application/json" and hit.headers["x-request-id"]
    body = hit.json()
    assert body["cached"] is True and body["usage"]["llm_calls"] == 0 and body["timings_ms"] == {}
    assert {k: body[k] for k in ("status", "answer", "sql", "rows")} == {
        k: first.json()[k] for k in ("status", "answer", "sql", "rows")
    }
    # 4: over the limit of 3, refused by the hot path in the usual shape.
    refused = client.post("/v1/ask", json=ASK, headers=alice)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1

    usage = client.get("/v1/usage", headers=new_key(app, "carol")).json()
    assert usage["requests"] == 0  # nothing leaked to another principal
    metrics = client.get("/metrics").text
    assert 'nl2sql_http_requests_total{method="POST",route="/v1/ask",status="200"} 3.0' in metrics
    assert 'nl2sql_answer_cache_total{result="hit"} 1.0' in metrics


def test_requests_the_hot_path_does_not_take_behave_as_before(make_client: Any) -> None:
    client, app = make_client()
    alice = new_key(app, "alice")
    assert client.post("/v1/ask", json=ASK, headers=alice).status_code == 200  # the key is now known
    invalid = client.post("/v1/ask", json={"question": ""}, headers=alice)
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_request"
    not_json = client.post("/v1/ask", content=b"{", headers={**alice, "Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error"]["code"] == "invalid_request"
    wrong = client.post("/v1/ask", json=ASK, headers={"Authorization": "Bearer nl2sql_unknown"})
    assert wrong.status_code == 401
    in_thread = client.post("/v1/ask", json={**ASK, "thread_id": "t1"}, headers=alice)
    assert in_thread.status_code == 200 and in_thread.json()["thread_id"] == "t1"
    again = client.post("/v1/ask", json=ASK, headers=alice)  # in-process cache (no Redis configured)
    assert again.status_code == 200 and again.json()["cached"] is True
