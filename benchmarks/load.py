"""HTTP load test for the service: throughput and latency percentiles of ``/v1/ask`` (or the SSE stream).

Against a running server::

    python benchmarks/load.py --url http://127.0.0.1:8000 --key nl2sql_... --requests 500 --concurrency 16

With no ``--url`` it starts its own server in this process (uvicorn on a free loopback port) with the
scripted fake model on the bundled sample database, an in-memory key store and, when ``--redis`` is
given, the real Redis for the cache and rate limits. Questions rotate over a small set, so with
``--unique`` off most requests are answer-cache hits; ``--unique`` makes every question distinct (all
misses: the agent's full path). Prints status counts, requests/s and p50/p95/p99 latency in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

QUESTIONS = [
    ("How many customers do we have?", "SELECT COUNT(*) AS n FROM customers"),
    ("How many stores are there?", "SELECT COUNT(*) AS n FROM stores"),
    ("How many products are there?", "SELECT COUNT(*) AS n FROM products"),
    (
        "Revenue per month in 2024",
        "SELECT strftime('%Y-%m', sale_date) AS month, ROUND(SUM(total_amount), 2) AS revenue FROM sales "
        "WHERE sale_date >= '2024-01-01' AND sale_date < '2025-01-01' GROUP BY month ORDER BY month",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_server(redis_url: str | None) -> Iterator[tuple[str, str]]:
    """An in-process server with the fake model; yields its base URL and an API key."""
    import uvicorn

    from nl2sql_agent import Agent, Settings
    from nl2sql_agent.api import ServiceSettings, create_app
    from nl2sql_agent.auth import create_api_key
    from nl2sql_agent.models.fake import FakeChatModel, FakeRule
    from nl2sql_agent.sample_db import ensure_sample_sqlite

    workdir = Path(tempfile.mkdtemp(prefix="nl2sql-load-"))
    db = ensure_sample_sqlite(workdir / "sample.sqlite")
    settings = Settings(model="fake", db_url=f"sqlite:///{db}", checkpointer_url="memory", data_dir=workdir)
    # The rules match on the start of each question, so "--unique" suffixes still get the right SQL.
    model = FakeChatModel(rules=[FakeRule(sql, when=q.split("?")[0], role="sql") for q, sql in QUESTIONS])
    agent = Agent.from_settings(settings, model=model)
    service = ServiceSettings(
        keys_url="memory",
        redis_url=redis_url,
        redis_prefix="nl2sql_load:",
        rate_limit_requests=10**9,
        daily_budget_usd=None,
        log_level="WARNING",
    )
    app = create_app(settings, agent=agent, service_settings=service)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", create_api_key(app.state.services.authenticator.keys, "load")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        agent.close()


async def run_load(url: str, key: str, *, requests: int, concurrency: int, stream: bool, unique: bool) -> None:
    """Send ``requests`` questions with ``concurrency`` workers and print the summary."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    cached = 0
    counter = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal cached
        for i in counter:
            question = QUESTIONS[i % len(QUESTIONS)][0]
            if unique:
                question = f"{question} (run {i})"
            started = time.perf_counter()
            if stream:
                async with client.stream("POST", "/v1/ask/stream", json={"question": question}) as response:
                    body = "".join([chunk async for chunk in response.aiter_text()])
                    cached += '"cached":true' in body
                    status = str(response.status_code) if "event: error" not in body else "stream-error"
            else:
                response = await client.post("/v1/ask", json={"question": question})
                status = str(response.status_code)
                cached += response.status_code == 200 and bool(response.json().get("cached"))
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1

    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print(f"requests     {len(latencies)} in {elapsed:.2f}s  ->  {len(latencies) / elapsed:.1f} req/s")
    print(f"statuses     {dict(statuses)}   cache hits {cached}")
    print(f"latency ms   p50 {cuts[49]:.1f}   p95 {cuts[94]:.1f}   p99 {cuts[98]:.1f}   max {max(latencies):.1f}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="base URL of a running server (default: start one in-process)")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--stream", action="store_true", help="use POST /v1/ask/stream (SSE)")
    parser.add_argument("--unique", action="store_true", help="make every question distinct (no cache hits)")
    parser.add_argument("--redis", help="Redis URL for the in-process server (default: in-process cache)")
    args = parser.parse_args()
    options = {"requests": args.requests, "concurrency": args.concurrency, "stream": args.stream, "unique": args.unique}
    if args.url:
        if not args.key:
            parser.error("--url needs --key")
        asyncio.run(run_load(args.url, args.key, **options))
        return
    with local_server(args.redis) as (url, key):
        asyncio.run(run_load(url, key, **options))


if __name__ == "__main__":
    main()
