"""The answer cache and the guarded Redis connection the service's shared state goes through.

A repeated question must cost zero model calls and must never cross principals, so the cache key
covers everything that can change an answer: the normalized question and evidence, the caller's
policy fingerprint, the database and its data version, and the model. Redis is shared by every
replica; an in-process LRU stands in when no Redis is configured. A configured Redis that goes away
degrades the cache to *no cache* (one log line per outage), never to an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from nl2sql_agent._version import __version__

log = logging.getLogger(__name__)

T = TypeVar("T")

CACHE_SCHEMA = "v2"
"""Bump when the cached value's shape changes, so old entries are never read back."""


class RedisUnavailableError(Exception):
    """Redis is down or was recently down; the caller falls back (no cache, in-process counters)."""


class SharedRedis:
    """A ``redis.asyncio`` client behind a small circuit breaker.

    After a failure, calls fail fast with :class:`RedisUnavailableError` for ``retry_after_s`` seconds
    instead of paying a connection timeout on every request; the outage and the recovery are each
    logged once.
    """

    def __init__(
        self,
        url: str,
        *,
        retry_after_s: float = 5.0,
        connect_timeout_s: float = 0.5,
        timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis.asyncio as redis_asyncio  # lazy: the library works without the [api] extra

        self.url = url
        self._client = redis_asyncio.Redis.from_url(
            url, socket_connect_timeout=connect_timeout_s, socket_timeout=timeout_s
        )
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._down_until = 0.0
        self._down = False

    @property
    def client(self) -> Any:
        """The underlying ``redis.asyncio.Redis`` client."""
        return self._client

    async def call(self, op: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``op(client)``; raise :class:`RedisUnavailableError` on any Redis failure or open breaker."""
        from redis.exceptions import RedisError

        if self._down and self._clock() < self._down_until:
            raise RedisUnavailableError(self._redacted_url())
        try:
            result = await op(self._client)
        except (RedisError, OSError) as exc:
            self._down_until = self._clock() + self._retry_after_s
            if not self._down:
                self._down = True
                log.warning(
                    "redis unavailable, degrading to no cache and per-replica counters",
                    extra={"redis": self._redacted_url(), "error": type(exc).__name__},
                )
            raise RedisUnavailableError(self._redacted_url()) from exc
        if self._down:
            self._down = False
            log.info("redis available again", extra={"redis": self._redacted_url()})
        return result

    async def ping(self) -> bool:
        """True when Redis answers now (ignores the breaker, for readiness probes)."""
        from redis.exceptions import RedisError

        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _redacted_url(self) -> str:
        # Never log a password that may sit in the URL.
        return re.sub(r"//[^@/]*@", "//***@", self.url)


_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?.!;,]+$")


def normalize_question(text: str) -> str:
    """Case-, space- and trailing-punctuation-insensitive form of a question, for cache keys.

    Example:
        >>> normalize_question("  How many  Customers? ")
        'how many customers'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _TRAILING.sub("", _SPACES.sub(" ", folded).strip())


def question_cache_key(
    *,
    question: str,
    evidence: str | None,
    policy_fingerprint: str,
    data_version: str,
    model_id: str,
) -> str:
    """A stable key for one answer: everything that can change the answer goes into it.

    Example:
        >>> a = question_cache_key(question="How many?", evidence=None, policy_fingerprint="p1",
        ...                        data_version="d", model_id="m")
        >>> a == question_cache_key(question="how many", evidence=None, policy_fingerprint="p1",
        ...                         data_version="d", model_id="m")
        True
    """
    material = [
        CACHE_SCHEMA,
        __version__,
        normalize_question(question),
        normalize_question(evidence) if evidence else "",
        policy_fingerprint,
        data_version,
        model_id,
    ]
    digest = hashlib.sha256(json.dumps(material, ensure_ascii=False).encode()).hexdigest()
    return f"answer:{digest}"


class AnswerCache(Protocol):
    """Where answers are kept between requests, as the exact JSON bytes a cache hit is served with.

    Bytes rather than objects: a hit is then sent as stored, with no decoding and re-encoding.
    """

    async def get(self, key: str) -> bytes | None:
        """The cached value, or ``None`` on a miss (or when the cache is unavailable)."""
        ...

    async def set(self, key: str, value: bytes) -> None:
        """Store ``value``; never raises because the cache is down."""
        ...


class MemoryCache:
    """In-process LRU with a TTL: the fallback when no Redis is configured (one replica only)."""

    def __init__(
        self, *, max_entries: int = 1024, ttl_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()

    async def get(self, key: str) -> bytes | None:
        """The cached value, or ``None`` when missing or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if self._clock() >= expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value  # immutable: no copy needed

    async def set(self, key: str, value: bytes) -> None:
        """Store ``value``, evicting the least recently used entry when full."""
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl_s, bytes(value))
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class RedisCache:
    """Answers in Redis with a TTL, shared by every replica."""

    def __init__(self, redis: SharedRedis, *, prefix: str = "nl2sql:", ttl_s: float = 3600.0) -> None:
        self.redis = redis
        self._prefix = prefix
        self._ttl_ms = max(1, int(ttl_s * 1000))

    def redis_key(self, key: str) -> str:
        """The Redis key under which ``key`` is stored (for callers that batch Redis commands)."""
        return self._prefix + key

    async def get(self, key: str) -> bytes | None:
        """The cached value, or ``None`` on a miss or while Redis is down."""
        try:
            raw: bytes | None = await self.redis.call(lambda r: r.get(self.redis_key(key)))
        except RedisUnavailableError:
            return None
        return raw

    async def set(self, key: str, value: bytes) -> None:
        """Store ``value`` with the TTL; a Redis outage only loses the entry."""
        try:
            await self.redis.call(lambda r: r.set(self.redis_key(key), value, px=self._ttl_ms))
        except RedisUnavailableError:
            return


class NoCache:
    """Caching switched off (``cache_ttl_s = 0``)."""

    async def get(self, key: str) -> bytes | None:
        """Always a miss."""
        return None

    async def set(self, key: str, value: bytes) -> None:
        """Drop the value."""
        return None


__all__ = [
    "AnswerCache",
    "MemoryCache",
    "NoCache",
    "RedisCache",
    "RedisUnavailableError",
    "SharedRedis",
    "normalize_question",
    "question_cache_key",
]
