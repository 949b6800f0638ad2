"""Live tests need the real local model; they are skipped when its endpoint does not answer."""

from __future__ import annotations

import os

import pytest

LIVE_BASE_URL = os.environ.get("NL2SQL_LIVE_BASE_URL", "http://127.0.0.1:8081/v1")


@pytest.fixture(scope="session")
def live_base_url() -> str:
    from nl2sql_agent.models.local import server_status

    if server_status(LIVE_BASE_URL) is None:
        pytest.skip(f"the local model is not running at {LIVE_BASE_URL} (nl2sql model start)")
    return LIVE_BASE_URL
