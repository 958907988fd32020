"""Fixtures for the RAG building blocks.

``chroma_server`` starts a real Chroma server (``chroma run`` from the venv) once per session and
yields ``(host, port)``. Other test packages can reuse it with
``from tests.unit.rag.conftest import chroma_server  # noqa: F401`` in their conftest.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from werkzeug.serving import make_server

CHROMA_START_DEADLINE_S = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chroma_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "chroma"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("chroma")


def _log_tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    binary = _chroma_binary()
    if binary is None:
        pytest.skip("the `chroma` executable (chromadb package) is not installed in this environment")
    data_dir = tmp_path_factory.mktemp("chroma")
    log_path = data_dir.parent / f"{data_dir.name}.log"
    host, port = "127.0.0.1", _free_port()
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [binary, "run", "--path", str(data_dir), "--host", host, "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + CHROMA_START_DEADLINE_S
        url = f"http://{host}:{port}/api/v2/heartbeat"
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma exited with {proc.returncode} before it was ready:\n{_log_tail(log_path)}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chroma not ready after {CHROMA_START_DEADLINE_S}s:\n{_log_tail(log_path)}")
            time.sleep(0.1)  # poll interval, bounded by the deadline above
        yield host, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def http_app_server() -> Iterator[Callable[[object], str]]:
    """Serve a WSGI app on 127.0.0.1 with an ephemeral port; returns its base URL."""
    servers = []

    def start(app: object) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=10)
