"""Helpers shared by the API tests (imported by name: tests/api is on sys.path in pytest's prepend mode)."""

from __future__ import annotations

from typing import Any

REDIS_URL = "redis://127.0.0.1:6379/0"
CLOSED_PORT_REDIS_URL = "redis://127.0.0.1:1/0"
"""Nothing listens on port 1: connections are refused at once, like a Redis that died."""


COUNT_SQL = "SELECT COUNT(*) AS customer_count FROM customers"


def fake_model(**kwargs: Any) -> Any:
    """A fake that answers "how many customers" with a COUNT, and anything else as scripted."""
    from nl2sql_agent.models.fake import FakeChatModel, FakeRule

    rules = kwargs.pop("rules", [])
    return FakeChatModel(rules=[*rules, FakeRule(COUNT_SQL, when="how many customers", role="sql")], **kwargs)


def sql_calls(model: Any) -> int:
    """How many SQL-drafting calls the fake received."""
    return sum(1 for call in model.calls if call["role"] == "sql")


def new_key(app: Any, principal_id: str, **kwargs: Any) -> dict[str, str]:
    """Create an API key for ``principal_id`` in the app's key store; the auth header to send."""
    from nl2sql_agent.auth import create_api_key

    key = create_api_key(app.state.services.authenticator.keys, principal_id, **kwargs)
    return {"Authorization": f"Bearer {key}"}


def read_sse(response: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(event, data)`` pairs of a Server-Sent Events response, in arrival order."""
    import json

    events: list[tuple[str, dict[str, Any]]] = []
    event, data = "message", ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data += line.removeprefix("data: ")
        elif not line and data:
            events.append((event, json.loads(data)))
            event, data = "message", ""
    if data:
        events.append((event, json.loads(data)))
    return events
