"""What a run costs: a price table per model, and each principal's usage and budget per day.

Token counts come only from the models' own usage metadata (:class:`nl2sql_agent.answer.Usage`); this
module turns them into dollars and keeps a daily ledger per principal in Redis (shared by every
replica), with an in-process ledger as the fallback when Redis is not configured or is down.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nl2sql_agent.answer import Usage
from nl2sql_agent.cache import RedisUnavailableError, SharedRedis
from nl2sql_agent.errors import BudgetExceededError, ConfigurationError

log = logging.getLogger(__name__)

_NANO = 1_000_000_000
"""Costs are accumulated as integer nano-dollars so that concurrent HINCRBYs stay exact."""


@dataclass(frozen=True)
class Price:
    """Dollars per one million tokens."""

    input_per_million: float
    output_per_million: float

    def cost_usd(self, usage: Usage) -> float:
        """The dollar cost of ``usage`` at this price."""
        return (usage.input_tokens * self.input_per_million + usage.output_tokens * self.output_per_million) / 1_000_000


FREE = Price(0.0, 0.0)

DEFAULT_PRICES: Mapping[str, Price] = {
    # Local and in-process models cost compute, not dollars per token.
    "local": FREE,
    "fake": FREE,
    "hf": FREE,
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
}


class PriceTable:
    """Looks up the price of a model spec such as ``openai:gpt-4o-mini``, ``fake:PATH`` or ``local``.

    A spec is matched exactly first, then by the model name after the provider prefix, then by the
    provider alone (``fake``, ``hf``, ``local``). An unknown model is a configuration error, never free:
    otherwise a typo would switch budgets off.
    """

    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self._prices: dict[str, Price] = {**DEFAULT_PRICES, **(prices or {})}

    def price_for(self, model_spec: str) -> Price:
        """The price of ``model_spec``; raises :class:`ConfigurationError` when there is none.

        Example:
            >>> PriceTable().price_for("openai:gpt-4o-mini")
            Price(input_per_million=0.15, output_per_million=0.6)
        """
        provider, _, name = model_spec.partition(":")
        for candidate in (model_spec, name, provider):
            if candidate and candidate in self._prices:
                return self._prices[candidate]
        raise ConfigurationError(
            f"no price for model {model_spec!r}: add it to NL2SQL_PRICES "
            '(e.g. {"my-model": {"input_per_million": 1.0, "output_per_million": 2.0}})',
            details={"model": model_spec},
        )


@dataclass(frozen=True)
class DailyUsage:
    """One principal's accumulated usage on one (UTC) day."""

    principal_id: str
    day: dt.date
    requests: int = 0
    cached_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0
    cost_usd: float = 0.0


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class UsageLedger:
    """Per-principal, per-day counters: Redis hashes shared by replicas, or in-process as a fallback.

    When Redis is configured but unreachable the ledger keeps counting in-process (per replica) so a
    Redis outage weakens budgets instead of failing requests.
    """

    def __init__(
        self,
        redis: SharedRedis | None = None,
        *,
        prefix: str = "nl2sql:",
        today: Callable[[], dt.date] = _utc_today,
        retention_days: int = 3,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._today = today
        self._retention_s = retention_days * 86_400
        self._local: dict[tuple[str, dt.date], dict[str, int]] = {}
        self._lock = threading.Lock()

    def redis_key(self, principal_id: str, day: dt.date | None = None) -> str:
        """The Redis hash of one principal's usage on ``day`` (default: today, UTC)."""
        return f"{self._prefix}usage:{(day or self._today()).isoformat()}:{principal_id}"

    @property
    def retention_s(self) -> int:
        """How long a day's usage hash is kept in Redis."""
        return self._retention_s

    async def get(self, principal_id: str, day: dt.date | None = None) -> DailyUsage:
        """The usage of ``principal_id`` on ``day`` (default: today, UTC)."""
        day = day or self._today()
        counts: dict[str, int] | None = None
        if self._redis is not None:
            try:
                raw = await self._redis.call(lambda r: r.hgetall(self.redis_key(principal_id, day)))
                counts = {_as_str(k): int(v) for k, v in raw.items()}
            except RedisUnavailableError:
                counts = None
        if counts is None:
            with self._lock:
                counts = dict(self._local.get((principal_id, day), {}))
        return _to_daily(principal_id, day, counts)

    async def add(self, principal_id: str, usage: Usage, cost_usd: float, *, cached: bool = False) -> None:
        """Count one request with its usage and cost against today's totals."""
        day = self._today()
        increments = {
            "requests": 1,
            "cached_requests": int(cached),
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "llm_calls": usage.llm_calls,
            "cost_nusd": round(cost_usd * _NANO),
        }
        if self._redis is not None:
            key = self.redis_key(principal_id, day)

            async def _write(r: object) -> None:
                pipe = r.pipeline(transaction=True)  # type: ignore[attr-defined]
                for name, value in increments.items():
                    pipe.hincrby(key, name, value)
                pipe.expire(key, self._retention_s)
                await pipe.execute()

            try:
                await self._redis.call(_write)
                return
            except RedisUnavailableError:
                pass
        with self._lock:
            counts = self._local.setdefault((principal_id, day), {})
            for name, value in increments.items():
                counts[name] = counts.get(name, 0) + value

    async def check_budget(self, principal_id: str, budget_usd: float | None) -> DailyUsage:
        """Refuse new work before anything is spent once today's cost reached ``budget_usd``.

        Raises:
            BudgetExceededError: the principal's spending today is at or over the budget.
        """
        usage = await self.get(principal_id)
        if budget_usd is not None and usage.cost_usd >= budget_usd:
            raise BudgetExceededError(
                f"daily budget of ${budget_usd:.4f} is spent (${usage.cost_usd:.4f} used today); "
                "it resets at 00:00 UTC",
                details={
                    "budget_usd": budget_usd,
                    "spent_usd": round(usage.cost_usd, 9),
                    "day": usage.day.isoformat(),
                },
            )
        return usage


def _as_str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _to_daily(principal_id: str, day: dt.date, counts: Mapping[str, int]) -> DailyUsage:
    return DailyUsage(
        principal_id=principal_id,
        day=day,
        requests=counts.get("requests", 0),
        cached_requests=counts.get("cached_requests", 0),
        input_tokens=counts.get("input_tokens", 0),
        output_tokens=counts.get("output_tokens", 0),
        llm_calls=counts.get("llm_calls", 0),
        cost_usd=counts.get("cost_nusd", 0) / _NANO,
    )


__all__ = [
    "DEFAULT_PRICES",
    "FREE",
    "DailyUsage",
    "Price",
    "PriceTable",
    "UsageLedger",
]
