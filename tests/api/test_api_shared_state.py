"""Rate limits, usage/budgets, prices and the answer cache, against the real Redis."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from api_helpers import CLOSED_PORT_REDIS_URL

from nl2sql_agent.answer import Usage
from nl2sql_agent.cache import (
    MemoryCache,
    RedisCache,
    RedisUnavailableError,
    SharedRedis,
    normalize_question,
    question_cache_key,
)
from nl2sql_agent.costs import Price, PriceTable, UsageLedger
from nl2sql_agent.errors import BudgetExceededError, ConfigurationError, RateLimitedError
from nl2sql_agent.ratelimit import RateLimit, RateLimiter


def test_price_table_matches_spec_then_name_then_provider() -> None:
    table = PriceTable({"my-model": Price(1.0, 2.0)})
    assert table.price_for("openai:gpt-4o-mini") == Price(0.15, 0.60)
    assert table.price_for("openai-compatible:my-model") == Price(1.0, 2.0)
    assert table.price_for("fake:/tmp/script.json") == Price(0.0, 0.0)
    with pytest.raises(ConfigurationError, match="no price"):
        table.price_for("openai:unknown-model")


def test_price_is_per_million_tokens() -> None:
    assert Price(1.0, 3.0).cost_usd(Usage(input_tokens=2_000_000, output_tokens=1_000_000)) == pytest.approx(5.0)


async def test_ledger_accumulates_per_principal_and_day_in_redis(redis_url: str, redis_prefix: str) -> None:
    redis = SharedRedis(redis_url)
    other_replica = SharedRedis(redis_url)
    try:
        ledger = UsageLedger(redis, prefix=redis_prefix)
        await ledger.add("alice", Usage(10, 5, 2), 0.25)
        await UsageLedger(other_replica, prefix=redis_prefix).add("alice", Usage(1, 1, 1), 0.5, cached=True)
        await ledger.add("bob", Usage(100, 100, 1), 9.0)
        alice = await ledger.get("alice")
        assert (alice.requests, alice.cached_requests, alice.input_tokens, alice.output_tokens, alice.llm_calls) == (
            2,
            1,
            11,
            6,
            3,
        )
        assert alice.cost_usd == pytest.approx(0.75)
        assert (await ledger.get("alice", dt.date(2000, 1, 1))).requests == 0
    finally:
        await redis.aclose()
        await other_replica.aclose()


async def test_budget_refuses_once_spent(redis_url: str, redis_prefix: str) -> None:
    redis = SharedRedis(redis_url)
    try:
        ledger = UsageLedger(redis, prefix=redis_prefix)
        await ledger.check_budget("carol", 1.0)
        await ledger.add("carol", Usage(1, 1, 1), 1.0)
        with pytest.raises(BudgetExceededError) as info:
            await ledger.check_budget("carol", 1.0)
        assert info.value.details["budget_usd"] == 1.0
        await ledger.check_budget("carol", None)  # no budget: never refused
    finally:
        await redis.aclose()


async def test_rate_limit_is_shared_by_replicas(redis_url: str, redis_prefix: str) -> None:
    replica_a, replica_b = SharedRedis(redis_url), SharedRedis(redis_url)
    try:
        limit = RateLimit(requests=3, window_s=30)
        a = RateLimiter(limit, replica_a, prefix=redis_prefix)
        b = RateLimiter(limit, replica_b, prefix=redis_prefix)
        assert (await a.check("alice")).remaining == 2
        await b.check("alice")
        await a.check("alice")
        with pytest.raises(RateLimitedError) as info:
            await b.check("alice")
        assert 1 <= info.value.retry_after_s <= 30
        assert (await a.hit("bob")).allowed  # another caller has its own window
    finally:
        await replica_a.aclose()
        await replica_b.aclose()


async def test_rate_limit_window_expires(redis_url: str, redis_prefix: str) -> None:
    redis = SharedRedis(redis_url)
    try:
        limiter = RateLimiter(RateLimit(requests=1, window_s=0.2), redis, prefix=redis_prefix)
        assert (await limiter.hit("dave")).allowed
        assert not (await limiter.hit("dave")).allowed
        import asyncio

        await asyncio.sleep(0.3)
        assert (await limiter.hit("dave")).allowed
    finally:
        await redis.aclose()


async def test_dead_redis_degrades_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    redis = SharedRedis(CLOSED_PORT_REDIS_URL, retry_after_s=60)
    try:
        cache = RedisCache(redis)
        limiter = RateLimiter(RateLimit(requests=1, window_s=60), redis)
        ledger = UsageLedger(redis)
        with caplog.at_level(logging.WARNING, logger="nl2sql_agent.cache"):
            assert await cache.get("k") is None
            await cache.set("k", b'{"a":1}')  # no error
            assert await cache.get("k") is None  # degraded to *no* cache, not a local one
            assert (await limiter.hit("eve")).allowed  # counted in-process instead
            assert not (await limiter.hit("eve")).allowed
            await ledger.add("eve", Usage(1, 2, 1), 0.5)
            assert (await ledger.get("eve")).cost_usd == pytest.approx(0.5)
        warnings = [r for r in caplog.records if r.name == "nl2sql_agent.cache"]
        assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
        with pytest.raises(RedisUnavailableError):
            await redis.call(lambda r: r.ping())
        assert not await redis.ping()
    finally:
        await redis.aclose()


def test_normalized_questions_share_a_key_and_policies_do_not() -> None:
    assert normalize_question("  How many\tCUSTOMERS?? ") == "how many customers"
    base = dict(
        question="How many customers?", evidence=None, policy_fingerprint="p1", data_version="d1", model_id="m1"
    )
    key = question_cache_key(**base)
    assert key == question_cache_key(**{**base, "question": "how many customers"})
    for change in (
        {"policy_fingerprint": "p2"},
        {"data_version": "d2"},
        {"model_id": "m2"},
        {"evidence": "only active ones"},
        {"question": "how many stores"},
    ):
        assert question_cache_key(**{**base, **change}) != key, change


async def test_memory_cache_expires_and_evicts_least_recently_used() -> None:
    now = [0.0]
    cache = MemoryCache(max_entries=2, ttl_s=10, clock=lambda: now[0])
    await cache.set("a", b"1")
    await cache.set("b", b"2")
    assert await cache.get("a") == b"1"  # touch a: b is now least recently used
    await cache.set("c", b"3")
    assert await cache.get("b") is None and await cache.get("a") == b"1"
    now[0] = 11.0
    assert await cache.get("a") is None


async def test_redis_cache_round_trip_with_ttl(redis_url: str, redis_prefix: str) -> None:
    redis = SharedRedis(redis_url)
    try:
        cache = RedisCache(redis, prefix=redis_prefix, ttl_s=30)
        await cache.set("answer:x", b'{"answer":"3000","rows":[[3000]]}')
        assert await RedisCache(redis, prefix=redis_prefix).get("answer:x") == b'{"answer":"3000","rows":[[3000]]}'
        ttl_ms = await redis.call(lambda r: r.pttl(redis_prefix + "answer:x"))
        assert 0 < ttl_ms <= 30_000
    finally:
        await redis.aclose()
