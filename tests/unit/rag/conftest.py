"""Fixtures for the RAG building blocks (``chroma_server`` lives in ``tests/conftest.py``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from werkzeug.serving import make_server


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
