"""``serve(workers=N)``: worker processes with a listening socket each, answering and stopping cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from api_helpers import COUNT_SQL

from nl2sql_agent.api.server import listening_socket
from nl2sql_agent.auth import issue_api_key


def test_workers_share_a_port_with_sockets_of_their_own() -> None:
    first = listening_socket("127.0.0.1", 0, reuse_port=True)
    try:
        port = first.getsockname()[1]
        second = listening_socket("127.0.0.1", port, reuse_port=True)  # same port: SO_REUSEPORT
        try:
            # IPPROTO_TCP (not 0) is what makes asyncio switch Nagle off on accepted connections.
            assert first.proto == second.proto == socket.IPPROTO_TCP
        finally:
            second.close()
        with pytest.raises(OSError):
            listening_socket("127.0.0.1", port, reuse_port=False).close()
    finally:
        first.close()


def test_serve_with_two_workers_answers_and_stops_on_sigterm(
    tmp_path: Path, sample_db_url: str, redis_url: str, redis_prefix: str
) -> None:
    script = tmp_path / "fake.json"
    script.write_text(json.dumps({"rules": [{"role": "sql", "when": "how many customers", "reply": COUNT_SQL}]}))
    keys_url = f"file:{tmp_path / 'keys.json'}"
    key = issue_api_key(keys_url, "alice")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")}
    env.update(
        {
            "NL2SQL_MODEL": f"fake:{script}",
            "NL2SQL_DB_URL": sample_db_url,
            "NL2SQL_CHECKPOINTER_URL": "memory",
            "NL2SQL_KEYS_URL": keys_url,
            "NL2SQL_REDIS_URL": redis_url,
            "NL2SQL_REDIS_PREFIX": redis_prefix,
            "NL2SQL_DATA_DIR": str(tmp_path / "data"),
            "NL2SQL_LOG_LEVEL": "WARNING",
        }
    )
    code = (
        "import sys; from nl2sql_agent.api import serve; from nl2sql_agent.settings import Settings; "
        f"sys.exit(serve(Settings(), port={port}, workers=2))"
    )
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        for _ in range(4):  # fresh connections, so both workers are likely to serve some
            answer = httpx.post(url + "/v1/ask", json={"question": "How many customers?"}, headers=headers, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json()["rows"] == [[3000]]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/healthz", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
