"""HTTP load test of ``POST /v1/ask``: answered requests/s and p50/p99 latency, cache misses and cache hits.

By default it starts the real service in its own process tree (``nl2sql serve --workers 2``) with the
scripted fake model on the bundled sample database, API keys in a file store, and the real Redis
(``--redis``) for the answer cache, rate limits and usage, then drives it from this process over
loopback with keep-alive connections, one per concurrent client::

    .venv/bin/python benchmarks/load.py                       # 1, 8, 32, 128 clients; misses then hits
    .venv/bin/python benchmarks/load.py --clients 32 --duration 10 --modes hits
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8000 --key nl2sql_...   # a running server

Misses ask a distinct question every time (each runs the whole agent: intent, retrieval, SQL from the
fake model, validation, execution on SQLite, the answer); hits repeat one question that was answered
once before the run. The client is a minimal HTTP/1.1 keep-alive client on asyncio streams (uvloop when
installed), so it spends as little as possible of the CPU it shares with the server. The rate limit
is set far above the load, so any 429 or other error is reported as such; only 429s are acceptable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

HIT_QUESTION = "How many customers do we have?"
MISS_QUESTION = "How many stores are there?"
FAKE_SCRIPT = {
    "rules": [
        {"role": "sql", "when": "how many customers", "reply": "SELECT COUNT(*) AS n FROM customers"},
        {"role": "sql", "when": "how many stores", "reply": "SELECT COUNT(*) AS n FROM stores"},
    ]
}
TARGETS = {"misses": 150.0, "hits": 1500.0}
"""Answered requests/s the service issue asks for; hits must also keep p99 <= 20 ms."""
HIT_P99_TARGET_MS = 20.0


# --- the client ----------------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that sends ready-made requests and reads whole responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        """Connect, with Nagle off so small requests leave at once."""
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one request; the status and the body of its response."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = -1
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if length >= 0:
            return status, await self.reader.readexactly(length)
        if not chunked:
            raise ConnectionError("response with neither Content-Length nor chunked encoding")
        body = bytearray()
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return status, bytes(body)
            body += chunk[:-2]

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


def ask_request(host: str, key: str, question: str) -> bytes:
    """A complete ``POST /v1/ask`` request."""
    body = json.dumps({"question": question}).encode()
    return (
        f"POST /v1/ask HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@dataclass
class RunResult:
    """What one load step measured."""

    mode: str
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    cached: int = 0
    transport_errors: int = 0
    server_cpu_s: float | None = None
    """CPU seconds the server's processes used during the measured seconds (when this script started it)."""

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU per answered request: a cost that other load on the machine does not distort."""
        if self.server_cpu_s is None or not self.answered:
            return float("nan")
        return self.server_cpu_s * 1000 / self.answered

    @property
    def answered(self) -> int:
        """Requests answered with 200."""
        return self.statuses.get(200, 0)

    @property
    def errors(self) -> int:
        """Everything that is neither a 200 nor an intended 429."""
        return sum(n for s, n in self.statuses.items() if s not in (200, 429)) + self.transport_errors

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile latency in ms (nearest rank)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def run_step(
    url: str,
    key: str,
    *,
    mode: str,
    clients: int,
    duration_s: float,
    warmup_s: float,
    run_id: str,
    server_group: int | None = None,
) -> RunResult:
    """``clients`` connections, each sending its next request as soon as the last one is answered."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    hit_request = ask_request(f"{host}:{port}", key, HIT_QUESTION)
    result = RunResult(mode=mode, clients=clients, seconds=duration_s)
    sequence = iter(range(10**9))
    loop = asyncio.get_running_loop()
    started = loop.time()
    measure_from = started + warmup_s
    stop_at = measure_from + duration_s

    async def client() -> None:
        connection = await HttpConnection.open(host, port)
        try:
            while (now := loop.time()) < stop_at:
                if mode == "hits":
                    request = hit_request
                else:
                    question = f"{MISS_QUESTION} ({run_id}-{clients} {next(sequence)})"  # never asked before
                    request = ask_request(f"{host}:{port}", key, question)
                sent = time.perf_counter()
                try:
                    status, body = await connection.send(request)
                except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                    result.transport_errors += now >= measure_from
                    connection.close()
                    connection = await HttpConnection.open(host, port)
                    continue
                elapsed_ms = (time.perf_counter() - sent) * 1000
                if now >= measure_from:
                    result.latencies_ms.append(elapsed_ms)
                    result.statuses[status] += 1
                    result.cached += b'"cached":true' in body
        finally:
            connection.close()

    async def meter() -> None:
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        before = group_cpu_seconds(server_group)  # type: ignore[arg-type]
        await asyncio.sleep(max(0.0, stop_at - loop.time()))
        result.server_cpu_s = group_cpu_seconds(server_group) - before  # type: ignore[arg-type]

    meters = [meter()] if server_group is not None else []
    await asyncio.gather(*(client() for _ in range(clients)), *meters)
    return result


# --- the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def service(
    *, workers: int, redis_url: str | None, log_level: str, launcher: str = "cli"
) -> Iterator[tuple[str, str, int]]:
    """``nl2sql serve --workers N`` in its own process group; yields its URL, an API key and the group id.

    ``launcher="api"`` starts the same service through :func:`nl2sql_agent.api.serve` instead of the CLI.
    """
    from nl2sql_agent.auth import issue_api_key
    from nl2sql_agent.sample_db import ensure_sample_sqlite

    workdir = Path(tempfile.mkdtemp(prefix="nl2sql-load-"))
    db = ensure_sample_sqlite(workdir / "sample.sqlite")
    script = workdir / "fake.json"
    script.write_text(json.dumps(FAKE_SCRIPT))
    keys_url = f"file:{workdir / 'keys.json'}"
    key = issue_api_key(keys_url, "load")
    prefix = f"nl2sql_load_{uuid.uuid4().hex[:8]}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")}
    env.update(
        {
            "NL2SQL_MODEL": f"fake:{script}",
            "NL2SQL_DB_URL": f"sqlite:///{db}",
            "NL2SQL_CHECKPOINTER_URL": "memory",
            "NL2SQL_KEYS_URL": keys_url,
            "NL2SQL_REDIS_PREFIX": prefix,
            "NL2SQL_RATE_LIMIT_REQUESTS": str(10**9),
            "NL2SQL_DATA_DIR": str(workdir / "data"),
            "NL2SQL_LOG_LEVEL": log_level,
        }
    )
    if redis_url:
        env["NL2SQL_REDIS_URL"] = redis_url
    port = _free_port()
    if launcher == "api":
        code = "import sys; from nl2sql_agent.api import serve; from nl2sql_agent.settings import Settings; "
        code += f"sys.exit(serve(Settings(), port={port}, workers={workers}))"
        command = [sys.executable, "-c", code]
    else:
        nl2sql = shutil.which("nl2sql", path=str(Path(sys.executable).parent)) or "nl2sql"
        command = [nl2sql, "serve", "--workers", str(workers), "--port", str(port)]
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the workers are stopped with it
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield url, key, process.pid  # the group leader: start_new_session made its pid the group id
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        if redis_url:
            _drop_prefix(redis_url, prefix)


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds used so far by every live process of a process group (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state, ppid, pgrp, ... utime is 12th, stime 13th
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the server was not ready within {timeout_s:g}s:\n{log_path.read_text()[-3000:]}")


def _drop_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


# --- the report ----------------------------------------------------------------------------------


def server_stack() -> str:
    """Which of uvicorn's fast parts are importable (uvicorn picks them automatically)."""
    import importlib.util

    found = [name for name in ("uvloop", "httptools", "orjson") if importlib.util.find_spec(name)]
    return ", ".join(found) or "none"


def print_row(result: RunResult) -> None:
    """One line of the results table."""
    rate = result.answered / result.seconds
    target = TARGETS[result.mode]
    ok = rate >= target and result.errors == 0
    if result.mode == "hits":
        ok = ok and result.percentile(99) <= HIT_P99_TARGET_MS
    print(
        f"{result.mode:<7}{result.clients:>8}{rate:>12.1f}{result.percentile(50):>10.1f}{result.percentile(99):>10.1f}"
        f"{max(result.latencies_ms, default=float('nan')):>10.1f}{result.errors:>8}{result.statuses.get(429, 0):>7}"
        f"{result.cached:>9}{result.cpu_ms_per_request:>9.2f}   {'meets target' if ok else 'below target'}",
        flush=True,
    )


async def run_all(url: str, key: str, args: argparse.Namespace, server_group: int | None = None) -> list[RunResult]:
    """Every (mode, clients) step in turn, printing each as it finishes."""
    run_id = uuid.uuid4().hex[:8]
    # One answer in the cache before the hits are measured (and a first miss to warm the agent).
    warm = await run_step(url, key, mode="hits", clients=1, duration_s=0.3, warmup_s=0.0, run_id=run_id)
    if warm.answered == 0:
        raise SystemExit(f"the warm-up request failed: statuses {dict(warm.statuses)}")
    print(
        f"{'mode':<7}{'clients':>8}{'answered/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"
        f"{'errors':>8}{'429s':>7}{'cached':>9}{'cpu ms':>9}"
    )
    results = []
    for mode in args.modes:
        for clients in args.clients:
            result = await run_step(
                url,
                key,
                mode=mode,
                clients=clients,
                duration_s=args.duration,
                warmup_s=args.warmup,
                run_id=run_id,
                server_group=server_group,
            )
            print_row(result)
            results.append(result)
    return results


def main() -> None:
    """Parse arguments, start the service unless ``--url`` is given, and run every step."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="base URL of a running server (default: start `nl2sql serve`)")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes of the started server")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL ('' for in-process state)")
    parser.add_argument("--clients", default="1,8,32,128", help="concurrent clients, comma-separated")
    parser.add_argument("--modes", default="misses,hits", help="misses, hits or both, comma-separated")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per step")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each step")
    parser.add_argument("--log-level", default="INFO", help="the server's log level (INFO keeps access logs)")
    parser.add_argument(
        "--launcher",
        choices=["cli", "api"],
        default="cli",
        help="start the server with `nl2sql serve` (cli) or nl2sql_agent.api.serve() (api)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    args.modes = [m.strip() for m in args.modes.split(",")]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPUs; server extras importable: {server_stack()}")
    if args.url:
        if not args.key:
            parser.error("--url needs --key")
        results = asyncio.run(run_all(args.url, args.key, args))
    else:
        print(
            f"server: {'nl2sql serve' if args.launcher == 'cli' else 'nl2sql_agent.api.serve()'} --workers "
            f"{args.workers}, fake model, sample SQLite DB, Redis {args.redis or 'off'}"
        )
        options = {"workers": args.workers, "redis_url": args.redis or None, "log_level": args.log_level}
        with service(**options, launcher=args.launcher) as (url, key, group):
            results = asyncio.run(run_all(url, key, args, server_group=group))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "mode": r.mode,
                        "clients": r.clients,
                        "answered_per_s": round(r.answered / r.seconds, 1),
                        "p50_ms": round(r.percentile(50), 2),
                        "p99_ms": round(r.percentile(99), 2),
                        "errors": r.errors,
                        "rate_limited": r.statuses.get(429, 0),
                        "statuses": {str(k): v for k, v in r.statuses.items()},
                        "cached": r.cached,
                        "server_cpu_ms_per_request": round(r.cpu_ms_per_request, 3),
                    }
                    for r in results
                ],
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
