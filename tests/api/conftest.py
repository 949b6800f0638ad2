"""API fixtures: a private PostgreSQL database, a private Redis key prefix, and app builders.

Everything is real: PostgreSQL at 127.0.0.1:5432, Redis at 127.0.0.1:6379. Only the model is a fake
(the scripted :class:`FakeChatModel`), so every model call can be counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_helpers import REDIS_URL, fake_model
from fastapi.testclient import TestClient


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis; the tests skip when it is not running."""
    if not _redis_up():
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    import redis

    prefix = f"nl2sql_test_api_{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def api_pg_url(make_pg_database: Callable[[str], str]) -> str:
    """A PostgreSQL database of the API tests' own (service tables and checkpoints)."""
    return make_pg_database("api")


AppFactory = Callable[..., tuple[TestClient, Any]]


@pytest.fixture
def make_client(sample_db_url: str) -> Iterator[AppFactory]:
    """Build an app around a real :class:`Agent` with a fake model; yields ``(client, app)``.

    Keyword arguments go to ``ServiceSettings`` except ``model``, ``settings`` (dict of ``Settings``
    overrides) and ``agent`` (a stand-in agent object, for error-mapping tests).
    """
    from nl2sql_agent.agent import Agent
    from nl2sql_agent.api import ServiceSettings, create_app
    from nl2sql_agent.settings import Settings

    opened: list[Any] = []

    def build(
        *, model: Any = None, settings: dict[str, Any] | None = None, agent: Any = None, **service: Any
    ) -> tuple[TestClient, Any]:
        options = {
            "model": "fake",
            "db_url": sample_db_url,
            "checkpointer_url": "memory",
            "retry_initial_s": 0.0,
            **(settings or {}),
        }
        agent_settings = Settings(**options)
        if agent is None:
            agent = Agent.from_settings(agent_settings, model=model or fake_model())
            opened.append(agent)
        service.setdefault("keys_url", "memory")
        app = create_app(agent_settings, agent=agent, service_settings=ServiceSettings(**service))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client, app

    yield build
    for item in reversed(opened):
        if isinstance(item, TestClient):
            item.__exit__(None, None, None)
        else:
            item.close()
