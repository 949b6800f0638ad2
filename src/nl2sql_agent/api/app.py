"""``create_app``: the FastAPI app factory, its lifespan, and ``serve`` for the CLI.

The app is stateless: every piece of shared state (conversation memory, API keys, verified pairs,
cache, rate limits, usage) lives in PostgreSQL or Redis, so any number of replicas can run behind a
load balancer. There is no module-level app: ``uvicorn --factory nl2sql_agent.api:app_from_env``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from nl2sql_agent._version import __version__
from nl2sql_agent.api.admission import Admission
from nl2sql_agent.api.errors import install_error_handlers
from nl2sql_agent.api.hotpath import CachedAnswerFastPath
from nl2sql_agent.api.logs import configure_logging
from nl2sql_agent.api.metrics import make_metrics
from nl2sql_agent.api.middleware import RequestContextMiddleware
from nl2sql_agent.api.readiness import build_checks
from nl2sql_agent.api.routes import api, ops
from nl2sql_agent.api.service import AgentLike, Services, catalog_fingerprint, config_fingerprint
from nl2sql_agent.api.settings import ServiceSettings
from nl2sql_agent.api.verified import make_verified_store
from nl2sql_agent.auth import Authenticator, make_key_store
from nl2sql_agent.cache import AnswerCache, MemoryCache, NoCache, RedisCache, SharedRedis
from nl2sql_agent.costs import PriceTable, UsageLedger
from nl2sql_agent.ratelimit import RateLimit, RateLimiter
from nl2sql_agent.settings import Settings

DESCRIPTION = """Ask a relational database questions in plain language.

Authenticate with `Authorization: Bearer <API key or JWT>` or `X-API-Key: <API key>`. Every error has
the shape `{"error": {"code", "message", "details"}}` with a stable `code`.
"""


def create_app(
    settings: Settings,
    *,
    agent: AgentLike | None = None,
    service_settings: ServiceSettings | None = None,
) -> FastAPI:
    """Build the HTTP service around an agent.

    Args:
        settings: The agent's settings (database, model, checkpointer, ...).
        agent: An already built agent (tests, embedding); it is not closed by the app. ``None`` builds
            one from ``settings`` in the lifespan and closes it at shutdown.
        service_settings: The service's own settings; ``None`` reads ``NL2SQL_*`` variables.

    Raises:
        ConfigurationError: at once (not at the first request) for settings that cannot work, such as
            a model with no price or a weak JWT secret.

    Example:
        >>> from nl2sql_agent.api import ServiceSettings, create_app
        >>> app = create_app(Settings(model="fake"), service_settings=ServiceSettings(keys_url="memory"))
        >>> app.title
        'nl2sql-agent'
    """
    service_settings = service_settings or ServiceSettings()
    prices = PriceTable({name: spec.to_price() for name, spec in service_settings.prices.items()})
    price = prices.price_for(settings.model)  # fail fast: an unpriced model would switch budgets off
    metrics = make_metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = None
        the_agent = agent
        if the_agent is None:
            from nl2sql_agent.agent import Agent

            owned = await asyncio.to_thread(Agent.from_settings, settings)
            the_agent = owned
        keys = make_key_store(service_settings.keys_url)
        verified = make_verified_store(service_settings.keys_url)
        redis = SharedRedis(service_settings.redis_url) if service_settings.redis_url else None
        prefix = service_settings.redis_prefix
        cache: AnswerCache
        if service_settings.cache_ttl_s == 0:
            cache = NoCache()
        elif redis is not None:
            cache = RedisCache(redis, prefix=prefix, ttl_s=service_settings.cache_ttl_s)
        else:
            cache = MemoryCache(max_entries=service_settings.cache_max_entries, ttl_s=service_settings.cache_ttl_s)
        limiter = RateLimiter(
            RateLimit(service_settings.rate_limit_requests, service_settings.rate_limit_window_s), redis, prefix=prefix
        )
        ledger = UsageLedger(redis, prefix=prefix)
        jwt_secret = service_settings.jwt_secret.get_secret_value() if service_settings.jwt_secret else None
        database = hashlib.sha256((settings.db_url or "sample").encode()).hexdigest()[:16]
        app.state.services = Services(
            settings=settings,
            agent=the_agent,
            authenticator=Authenticator(
                keys,
                jwt_secret=jwt_secret,
                jwt_audience=service_settings.jwt_audience,
                jwt_issuer=service_settings.jwt_issuer,
                key_cache_ttl_s=service_settings.key_cache_ttl_s,
            ),
            admission=Admission(limiter=limiter, cache=cache, ledger=ledger),
            ledger=ledger,
            cache=cache,
            price=price,
            model_id=f"{settings.model}#{config_fingerprint(settings, the_agent)}",
            model_label=settings.model,
            data_version=f"{database}:{catalog_fingerprint(the_agent)}:{service_settings.data_version}",
            default_budget_usd=service_settings.daily_budget_usd,
            cache_shared_by_policy=service_settings.cache_shared_by_policy,
            request_timeout_s=service_settings.request_timeout_s,
            metrics=metrics,
            verified=verified,
            redis=redis,
        )
        app.state.checks = build_checks(settings=settings, agent=the_agent, keys=keys, redis=redis)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(keys.close)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(verified.close)
            if redis is not None:
                with contextlib.suppress(Exception):
                    await redis.aclose()
            if owned is not None:
                await asyncio.to_thread(owned.close)

    app = FastAPI(title="nl2sql-agent", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    # Added first, so it runs inside the request context (ids, body limit, access log, metrics).
    app.add_middleware(CachedAnswerFastPath)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, max_body_bytes=service_settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(api)
    app.include_router(ops)
    return app


def app_from_env() -> FastAPI:
    """An app configured entirely from ``NL2SQL_*`` variables, for ``uvicorn --factory``."""
    service_settings = ServiceSettings()
    configure_logging(service_settings.log_level, json_lines=service_settings.log_json)
    return create_app(Settings(), service_settings=service_settings)


def serve(
    settings: Settings,
    service_settings: ServiceSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
) -> int:
    """Run the service with uvicorn until interrupted (``nl2sql serve``); the exit code.

    ``workers > 1`` starts that many processes, each with its own listening socket on the same port
    (see :mod:`nl2sql_agent.api.server`). All shared state is in PostgreSQL/Redis, so more replicas
    scale the same way.
    """
    import uvicorn

    from nl2sql_agent.api.server import UVICORN_OPTIONS, run_workers

    service_settings = service_settings or ServiceSettings()
    configure_logging(service_settings.log_level, json_lines=service_settings.log_json)
    if workers > 1:
        return run_workers(settings, service_settings, host=host, port=port, workers=workers)
    app = create_app(settings, service_settings=service_settings)
    uvicorn.run(app, host=host, port=port, **UVICORN_OPTIONS)
    return 0
