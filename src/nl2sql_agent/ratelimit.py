"""Fixed-window rate limits per caller, atomic in Redis so every replica shares one count.

The window starts at a caller's first request and lives in Redis as a key with a TTL, so the
``Retry-After`` a client gets comes from Redis's clock, not from whichever replica answered. Without
Redis (not configured, or down) each replica counts in-process: a weaker limit, never an outage.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nl2sql_agent.cache import RedisUnavailableError, SharedRedis
from nl2sql_agent.errors import RateLimitedError

# INCR and PEXPIRE in one atomic step: two replicas can never both think they opened the window,
# and a key can never be left without a TTL (which would block its caller forever).
_FIXED_WINDOW_LUA = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``window_s`` seconds."""

    requests: int
    window_s: float


@dataclass(frozen=True)
class RateDecision:
    """The outcome of counting one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_after_s: float
    """Seconds until the current window ends (the ``Retry-After`` when refused)."""


class RateLimiter:
    """Counts requests per key and refuses those over the limit."""

    def __init__(
        self,
        limit: RateLimit,
        redis: SharedRedis | None = None,
        *,
        prefix: str = "nl2sql:",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._local: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._script: Any = None

    def redis_key(self, key: str) -> str:
        """The Redis counter of ``key`` (for callers that batch Redis commands)."""
        return f"{self._prefix}rl:{key}"

    @property
    def window_ms(self) -> int:
        """The window in whole milliseconds, as Redis counts it."""
        return max(1, int(self.limit.window_s * 1000))

    def decide(self, count: int, reset_after_s: float) -> RateDecision:
        """The decision for the ``count``-th request of a window that ends in ``reset_after_s`` seconds."""
        return RateDecision(
            allowed=count <= self.limit.requests,
            limit=self.limit.requests,
            remaining=max(0, self.limit.requests - count),
            reset_after_s=reset_after_s,
        )

    async def hit(self, key: str) -> RateDecision:
        """Count one request for ``key`` and say whether it is within the limit."""
        count_and_ttl: tuple[int, float] | None = None
        if self._redis is not None:
            try:
                count, ttl_ms = await self._redis.call(
                    lambda r: self._lua(r)(keys=[self.redis_key(key)], args=[self.window_ms])
                )
                count_and_ttl = (int(count), int(ttl_ms) / 1000)
            except RedisUnavailableError:
                count_and_ttl = None
        if count_and_ttl is None:
            count_and_ttl = self.hit_local(key)
        return self.decide(*count_and_ttl)

    async def check(self, key: str) -> RateDecision:
        """Like :meth:`hit`, but raise when refused.

        Raises:
            RateLimitedError: over the limit; ``retry_after_s`` is a whole number of seconds >= 1.
        """
        return self.enforce(await self.hit(key))

    def enforce(self, decision: RateDecision) -> RateDecision:
        """Return ``decision`` if allowed; raise :class:`RateLimitedError` otherwise."""
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.reset_after_s))
            raise RateLimitedError(
                f"rate limit of {self.limit.requests} requests per {self.limit.window_s:g}s reached; "
                f"retry in {retry_after}s",
                retry_after_s=retry_after,
            )
        return decision

    def _lua(self, client: Any) -> Any:
        # register_script caches the SHA and falls back to EVAL after a Redis restart (NOSCRIPT).
        if self._script is None:
            self._script = client.register_script(_FIXED_WINDOW_LUA)
        return self._script

    def hit_local(self, key: str) -> tuple[int, float]:
        """Count one request in this process only (no Redis, or Redis down); ``(count, seconds left)``."""
        now = self._clock()
        with self._lock:
            count, reset_at = self._local.get(key, (0, 0.0))
            if now >= reset_at:
                count, reset_at = 0, now + self.limit.window_s
                if len(self._local) > 10_000:  # drop expired windows so memory stays bounded
                    self._local = {k: v for k, v in self._local.items() if v[1] > now}
            count += 1
            self._local[key] = (count, reset_at)
        return count, reset_at - now


__all__ = ["RateDecision", "RateLimit", "RateLimiter"]
