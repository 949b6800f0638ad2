"""Admitting a request: the rate limit, and for a one-off question the answer cache, in one Redis round trip.

A cache hit is the hot path of the service, so it costs a single atomic Lua call: count the request
against the caller's window, and only when it is allowed read the cached answer and, on a hit, count
the (free) request in the caller's daily usage. Without Redis, or while it is down, the same steps
run one by one on the in-process fallbacks of each component.
"""

from __future__ import annotations

from typing import Any

from nl2sql_agent.answer import Usage
from nl2sql_agent.cache import AnswerCache, RedisCache, RedisUnavailableError
from nl2sql_agent.costs import UsageLedger
from nl2sql_agent.ratelimit import RateLimiter

# KEYS: rate counter, cached answer, usage hash. ARGV: window ms, limit, usage retention s.
# The rate part is the same fixed window as ratelimit.py's script; a refused request reads nothing.
_ADMIT_LUA = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
if count > tonumber(ARGV[2]) then
  return {count, ttl, false}
end
local hit = redis.call('GET', KEYS[2])
if hit then
  redis.call('HINCRBY', KEYS[3], 'requests', 1)
  redis.call('HINCRBY', KEYS[3], 'cached_requests', 1)
  redis.call('EXPIRE', KEYS[3], ARGV[3])
end
return {count, ttl, hit}
"""


class Admission:
    """Counts requests against the rate limit and serves cached answers of one-off questions."""

    def __init__(self, *, limiter: RateLimiter, cache: AnswerCache, ledger: UsageLedger) -> None:
        self.limiter = limiter
        self.cache = cache
        self.ledger = ledger
        self._script: Any = None

    async def admit(self, principal_id: str) -> None:
        """Count a request that cannot be served from the cache (429 when over the limit)."""
        await self.limiter.check(principal_id)

    async def admit_cached(self, principal_id: str, cache_key: str) -> bytes | None:
        """Count a one-off question and return its cached answer, if any (already counted as usage).

        Raises:
            RateLimitedError: over the limit (nothing is read then).
        """
        if isinstance(self.cache, RedisCache):
            try:
                return await self._admit_in_redis(self.cache, principal_id, cache_key)
            except RedisUnavailableError:
                pass  # each step below falls back on its own
        await self.limiter.check(principal_id)
        hit = await self.cache.get(cache_key)
        if hit is not None:
            await self.ledger.add(principal_id, Usage(), 0.0, cached=True)
        return hit

    async def _admit_in_redis(self, cache: RedisCache, principal_id: str, cache_key: str) -> bytes | None:
        keys = [
            self.limiter.redis_key(principal_id),
            cache.redis_key(cache_key),
            self.ledger.redis_key(principal_id),
        ]
        args = [self.limiter.window_ms, self.limiter.limit.requests, self.ledger.retention_s]
        count, ttl_ms, hit = await cache.redis.call(lambda r: self._lua(r)(keys=keys, args=args))
        self.limiter.enforce(self.limiter.decide(int(count), int(ttl_ms) / 1000))
        return hit or None  # Lua false arrives as None

    def _lua(self, client: Any) -> Any:
        # register_script caches the SHA (EVALSHA) and falls back to EVAL after a Redis restart.
        if self._script is None:
            self._script = client.register_script(_ADMIT_LUA)
        return self._script
