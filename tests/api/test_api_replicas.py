"""Statelessness: two real server processes share PostgreSQL (memory, keys) and Redis (cache, limits)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import COUNT_SQL

from nl2sql_agent.auth import PostgresKeyStore, create_api_key

STORES_SQL = "SELECT COUNT(*) AS store_count FROM stores"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server did not start in {timeout_s}s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def two_replicas(
    tmp_path: Path, sample_db_url: str, api_pg_url: str, redis_url: str, redis_prefix: str
) -> Iterator[tuple[str, str, str]]:
    """Start two uvicorn processes on loopback ports; yields both base URLs and an API key."""
    script = tmp_path / "fake.json"
    script.write_text(
        json.dumps(
            {
                "rules": [
                    {"role": "sql", "when": "how many stores", "reply": STORES_SQL},
                    {"role": "sql", "when": "how many customers", "reply": COUNT_SQL},
                ]
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")}
    env.update(
        {
            "NL2SQL_MODEL": f"fake:{script}",
            "NL2SQL_DB_URL": sample_db_url,
            "NL2SQL_CHECKPOINTER_URL": api_pg_url,
            "NL2SQL_KEYS_URL": api_pg_url,
            "NL2SQL_REDIS_URL": redis_url,
            "NL2SQL_REDIS_PREFIX": redis_prefix,
            "NL2SQL_DATA_DIR": str(tmp_path / "data"),
            "NL2SQL_RETRY_INITIAL_S": "0",
            "NL2SQL_LOG_LEVEL": "WARNING",
        }
    )
    store = PostgresKeyStore(api_pg_url)  # what `nl2sql keys create` does
    try:
        key = create_api_key(store, "alice")
    finally:
        store.close()
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for name in ("a", "b"):  # one after the other: both run the same schema setup at startup
            port = _free_port()
            log = tmp_path / f"server-{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "nl2sql_agent.api:app_from_env",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            _wait_healthy(urls[-1], process, log)
        yield urls[0], urls[1], key
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_a_conversation_started_on_one_replica_continues_on_the_other(two_replicas: tuple[str, str, str]) -> None:
    a, b, key = two_replicas
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=30, headers=headers) as http:
        first = http.post(f"{a}/v1/ask", json={"question": "How many customers are there?", "thread_id": "conv1"})
        assert first.status_code == 200, first.text
        assert first.json()["rows"] == [[3000]]
        follow = http.post(f"{b}/v1/threads/conv1/ask", json={"question": "And how many stores?"})
        assert follow.status_code == 200, follow.text
        assert follow.json()["sql"] is not None and "stores" in follow.json()["sql"]
        turns: list[dict[str, Any]] = http.get(f"{a}/v1/threads/conv1").json()["turns"]
        assert [t["question"] for t in turns] == ["How many customers are there?", "And how many stores?"]

        # The answer cache and the usage counters are shared too.
        one_off = {"question": "how many customers do we have?"}
        assert http.post(f"{a}/v1/ask", json=one_off).json()["cached"] is False
        assert http.post(f"{b}/v1/ask", json=one_off).json()["cached"] is True
        assert http.get(f"{a}/v1/usage").json()["requests"] == http.get(f"{b}/v1/usage").json()["requests"] == 4
        ready = http.get(f"{b}/readyz")
        assert ready.status_code == 200, ready.text
