"""``/readyz``: is each dependency reachable right now? Each check is reported on its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nl2sql_agent.auth import KeyStore
from nl2sql_agent.cache import SharedRedis
from nl2sql_agent.settings import Settings

CHECK_TIMEOUT_S = 3.0
Check = Callable[[], Awaitable[str]]
"""A check returns a short detail on success and raises on failure."""


async def run_checks(checks: dict[str, Check]) -> dict[str, dict[str, Any]]:
    """Run every check concurrently, each bounded by :data:`CHECK_TIMEOUT_S`."""

    async def one(check: Check) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
            ok = True
        except TimeoutError:
            ok, detail = False, f"no answer within {CHECK_TIMEOUT_S:g}s"
        except Exception as exc:  # noqa: BLE001  # any failure means "not ready", reported, never raised
            ok, detail = False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        return {"ok": ok, "detail": detail, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results, strict=True))


def build_checks(*, settings: Settings, agent: object, keys: KeyStore, redis: SharedRedis | None) -> dict[str, Check]:
    """The service's checks: database, checkpointer, cache, key store and model."""

    async def database() -> str:
        executor = getattr(agent, "executor", None)
        if executor is None:
            return "not checked (agent has no executor)"
        await asyncio.to_thread(executor.run, "SELECT 1", max_rows=1, timeout_s=CHECK_TIMEOUT_S)
        return str(getattr(executor, "dialect", "ok"))

    async def checkpointer() -> str:
        history = getattr(agent, "history", None)
        if history is None:
            return "not checked"
        await asyncio.to_thread(history, "readyz-probe")
        return "ok"

    async def cache() -> str:
        if redis is None:
            return "in-process (no Redis configured)"
        if not await redis.ping():
            raise ConnectionError("redis does not answer PING")
        return "redis"

    async def key_store() -> str:
        await asyncio.to_thread(keys.ping)
        return type(keys).__name__

    async def model() -> str:
        return await check_model(settings)

    return {"database": database, "checkpointer": checkpointer, "cache": cache, "keys": key_store, "model": model}


async def check_model(settings: Settings) -> str:
    """Reach the model endpoint without spending tokens (``GET /models``); in-process models always pass."""
    import httpx

    provider = settings.model.split(":", 1)[0]
    if provider == "fake":
        return "scripted fake model"
    if provider in {"hf", "huggingface"}:
        return "in-process model"
    base_url = settings.local_base_url if provider == "local" else settings.base_url
    if base_url is None and provider == "openai":
        base_url = "https://api.openai.com/v1"
    if base_url is None:
        return f"not checked ({provider})"
    headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"} if settings.api_key else {}
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as client:
        response = await client.get(base_url.rstrip("/") + "/models", headers=headers)
    if response.status_code >= 500 or response.status_code in (401, 403):
        raise ConnectionError(f"model endpoint answered HTTP {response.status_code}")
    return f"HTTP {response.status_code}"
