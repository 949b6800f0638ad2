"""Running the app under uvicorn: in this process, or in N worker processes with a listening socket each.

uvicorn's own ``--workers`` shares one listening socket between its processes. Whichever process wakes
first accepts every connection that is waiting, so a burst of keep-alive clients can end up on a
single worker while the others idle; and the socket it binds is created without ``IPPROTO_TCP``, which
stops asyncio from switching Nagle's algorithm off on accepted connections (a 40 ms stall per response
with the stock event loop and delayed ACKs). Here every worker gets its own TCP socket bound to the same
port with ``SO_REUSEPORT``, so the kernel spreads connections evenly across workers, and Nagle is off.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nl2sql_agent.api.settings import ServiceSettings
    from nl2sql_agent.settings import Settings

log = logging.getLogger(__name__)

UVICORN_OPTIONS: dict[str, Any] = {"log_config": None, "access_log": False, "proxy_headers": True}
"""Our access log replaces uvicorn's (which would log query strings); logging is configured by us."""


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A bound, listening TCP socket (``IPPROTO_TCP``, so asyncio turns Nagle off on accepted connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def run_workers(settings: Settings, service_settings: ServiceSettings, *, host: str, port: int, workers: int) -> int:
    """Serve with ``workers`` processes until SIGINT/SIGTERM or until one of them dies; the exit code.

    A worker that dies takes the others down with it: restarting is the process manager's job
    (systemd, Kubernetes), which also sees the failure that way.
    """
    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - not Linux/BSD/macOS
        raise OSError("several workers need SO_REUSEPORT; run one process per replica instead")
    sockets = [listening_socket(host, port, reuse_port=True)]
    port = sockets[0].getsockname()[1]  # a port of 0 is chosen once, then shared by every worker
    sockets += [listening_socket(host, port, reuse_port=True) for _ in range(workers - 1)]
    context = multiprocessing.get_context("spawn")  # no inherited threads, locks or connections
    processes = [
        context.Process(
            target=_worker, args=(settings, service_settings, sock), name=f"nl2sql-worker-{i}", daemon=False
        )
        for i, sock in enumerate(sockets)
    ]
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()  # SIGTERM: uvicorn finishes the requests in flight

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        for sock in sockets:
            sock.close()  # each worker holds its own duplicate now
        log.info("serving", extra={"host": host, "port": port, "workers": workers})
        sentinels = {p.sentinel: p for p in processes}
        while sentinels:
            ready = multiprocessing.connection.wait(list(sentinels))
            for sentinel in ready:
                sentinels.pop(sentinel)  # type: ignore[call-overload]
            if not stopping:
                log.error("a worker exited; stopping the others", extra={"workers": workers})
                _stop(signal.SIGTERM, None)
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping and all(p.exitcode in (0, -signal.SIGTERM) for p in processes) else 1


def _worker(settings: Settings, service_settings: ServiceSettings, sock: socket.socket) -> None:
    import uvicorn

    from nl2sql_agent.api.app import create_app
    from nl2sql_agent.api.logs import configure_logging

    configure_logging(service_settings.log_level, json_lines=service_settings.log_json)
    app = create_app(settings, service_settings=service_settings)
    server = uvicorn.Server(uvicorn.Config(app, **UVICORN_OPTIONS))
    server.run(sockets=[sock])
    sys.exit(0 if server.started else 1)
