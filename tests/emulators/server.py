"""`EmulatorServer`: the emulator app on 127.0.0.1 with an ephemeral port, driven over real HTTP.

    with EmulatorServer() as emu:
        emu.load({"chatwoot": {...}})
        emu.fault("attio", kind="rate_limit")
        env = emu.env()        # CHATWOOT_BASE_URL, …, plus tokens/ids of the loaded fixtures
        ...
        assert len(emu.requests("attio")) == 2
"""

from __future__ import annotations

import base64
import json
import threading
from types import TracebackType
from typing import Any

import httpx
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_emulator_app


def _first_account_id(chatwoot: dict[str, Any]) -> Any:
    generate = chatwoot.get("generate") or []
    generated = [generate] if isinstance(generate, dict) else generate
    ids = [*(chatwoot.get("accounts") or {}), *(spec["account_id"] for spec in generated)]
    return ids[0] if ids else None


class EmulatorRequestHandler(WSGIRequestHandler):
    """Keeps headers whose names contain underscores (werkzeug drops them; Rack, hence Chatwoot and its
    `api_access_token` header, accepts them)."""

    quiet = False

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        for key, value in self.headers.items():
            if "_" in key:
                environ.setdefault("HTTP_" + key.upper().replace("-", "_"), value)
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not self.quiet:
            super().log_request(code, size)


class QuietHandler(EmulatorRequestHandler):
    quiet = True


class EmulatorServer:
    def __init__(self, fixtures: dict[str, Any] | None = None, *, port: int = 0, quiet: bool = True) -> None:
        self.app: Flask = create_emulator_app()
        self._port, self._quiet = port, quiet
        self._initial = fixtures
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None
        self._loaded: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        handler = QuietHandler if self._quiet else EmulatorRequestHandler
        self._server = make_server("127.0.0.1", self._port, self.app, threaded=True, request_handler=handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="vendor-emulators", daemon=True)
        self._thread.start()
        self._client = httpx.Client(base_url=self.base_url, timeout=30)
        if self._initial:
            self.load(self._initial)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.app.extensions["emulator"].wake_sleepers()
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._client is not None:
            self._client.close()
        self._server = self._thread = self._client = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("EmulatorServer is not running")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def chatwoot_url(self) -> str:
        return f"{self.base_url}/chatwoot"

    @property
    def attio_url(self) -> str:
        return f"{self.base_url}/attio"

    @property
    def linear_url(self) -> str:
        return f"{self.base_url}/linear/graphql"

    @property
    def openai_url(self) -> str:
        return f"{self.base_url}/openai/v1"

    @property
    def loops_url(self) -> str:
        return f"{self.base_url}/loops/api/v1"

    def env(self) -> dict[str, str]:
        """Connector settings pointing at this server, with the credentials of the loaded fixtures."""
        out = {"CHATWOOT_BASE_URL": self.chatwoot_url, "ATTIO_BASE_URL": self.attio_url,
               "LINEAR_BASE_URL": self.linear_url, "OPENAI_BASE_URL": self.openai_url,
               "LOOPS_API_BASE_URL": self.loops_url}
        cw, at, li, oa = (self._loaded.get(v) or {} for v in ("chatwoot", "attio", "linear", "openai"))
        pairs = {
            "CHATWOOT_API_TOKEN": cw.get("token"),
            "CHATWOOT_ACCOUNT_ID": _first_account_id(cw),
            "ATTIO_API_TOKEN": at.get("token"),
            "ATTIO_WORKSPACE_ID": at.get("workspace_id"),
            "LINEAR_API_TOKEN": li.get("token"),
            "LINEAR_WORKSPACE_ID": (li.get("organization") or {}).get("id"),
            "OPENAI_API_KEY": oa.get("key"),
            "EMBEDDING_DIM": oa.get("dim"),
            "LOOPS_SECRET_KEY": (self._loaded.get("loops") or {}).get("key"),
        }
        out.update({k: str(v) for k, v in pairs.items() if v not in (None, "")})
        return out

    # -- control endpoints -------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if self._client is None:
            raise RuntimeError("EmulatorServer is not running")
        if "json" in kwargs:  # ASCII-escaped, so fixtures may carry lone surrogates on purpose
            kwargs["content"] = json.dumps(kwargs.pop("json"))
            kwargs["headers"] = {"Content-Type": "application/json"}
        response = self._client.request(method, f"/__emu/{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._call("POST", "reset")
        self._loaded = {}

    def load(self, fixtures: dict[str, Any]) -> dict[str, Any]:
        """Load fixtures (replaces the data of each vendor given); returns per-vendor counts."""
        loaded = self._call("POST", "fixtures", json=fixtures)["loaded"]
        self._loaded.update(fixtures)
        return loaded

    def fault(self, vendor: str | None = None, *, kind: str | None = None, method: str | None = None,
              path_regex: str | None = None, operation: str | None = None, times: int = 1,
              status: int | None = None, headers: dict[str, str] | None = None, body: Any = None,
              delay_ms: int | None = None, retry_after: float | None = None) -> None:
        """Queue one fault. `body` may be JSON-able, str, or bytes (sent as body_b64)."""
        response: dict[str, Any] = {"status": status, "headers": headers or {}, "delay_ms": delay_ms}
        if isinstance(body, bytes):
            response["body_b64"] = base64.b64encode(body).decode()
        elif body is not None:
            response["body"] = body
        spec: dict[str, Any] = {"vendor": vendor, "times": times, "response": response,
                                "match": {"method": method, "path_regex": path_regex, "operation": operation}}
        if kind:
            spec["kind"] = kind
        if retry_after is not None:
            spec["retry_after"] = retry_after
        self._call("POST", "faults", json=spec)

    def pending_faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")["faults"]

    def requests(self, vendor: str | None = None) -> list[dict[str, Any]]:
        params = {"vendor": vendor} if vendor else None
        return self._call("GET", "requests", params=params)["requests"]

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def mutate(self, vendor: str, op: str, **fields: Any) -> dict[str, Any]:
        """One data change, e.g. mutate("chatwoot", "update_message", account_id=1, conversation_id=2,
        message_id=9, set={"content": "new"}). Returns the changed object."""
        return self._call("POST", "mutate", json={"vendor": vendor, "op": op, **fields})["results"][0]

    def mutate_many(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("POST", "mutate", json={"ops": ops})["results"]
