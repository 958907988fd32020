"""The Loops API client (business.md §B5): create-or-update contacts over the shared vendor HTTP client.

``POST {base}/contacts/create`` creates a contact; a create refused because the contact already
exists (Loops answers 409 with a message such as "Email or userId is already on list.") is retried
as ``PUT {base}/contacts/update`` with the same body (Loops documents update as ``PUT``). Timeouts
are 15 s; transient failures (network, 408, 429, 5xx) use the platform tenacity policy of
``shared.http`` (``Retry-After`` honoured). Other 4xx answers raise :class:`LoopsRejected` carrying
Loops' own error message, which the sync records per contact (first 300 characters).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from shared.errors import TransientError, UpstreamClientError
from shared.http import HttpSettings, VendorHttp, classify_response, decode_body, safe_url

TIMEOUT_S = 15.0
CREATE_PATH = "/contacts/create"
UPDATE_PATH = "/contacts/update"


class LoopsRejected(UpstreamClientError):
    """Loops refused the call with a 4xx (other than 408/429); ``message`` is Loops' own text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}", status=status, error_kind=f"http_{status}")


def _error_message(content: bytes, content_type: str | None) -> str:
    text = decode_body(content, content_type).strip()
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        for key in ("message", "error", "detail"):
            if isinstance(payload.get(key), str) and payload[key].strip():
                return payload[key].strip()
    return text[:300] or "no message"


def _checked(answer: dict[str, Any]) -> dict[str, Any]:
    """A 2xx answer that still says ``"success": false`` is a refusal too."""
    if answer.get("success") is False:
        message = answer.get("message")
        raise LoopsRejected(200, message if isinstance(message, str) and message else "success: false")
    return answer


class LoopsHttp(VendorHttp):
    """``VendorHttp`` that keeps Loops' error message on a permanent 4xx (needed to tell "already
    exists" apart from other refusals); everything else is classified by ``classify_response``."""

    def _once(self, method: str, url: str, params: Mapping[str, Any] | None, json_body: Any) -> dict[str, Any]:
        self.requests_sent += 1
        try:
            response = self.client.request(method, url, params=params, json=json_body)
        except httpx.TimeoutException as exc:
            raise TransientError(f"loops {method} {safe_url(url)}: timeout ({type(exc).__name__})",
                                 error_kind="sync_failed") from None
        except httpx.TransportError as exc:
            raise TransientError(f"loops {method} {safe_url(url)}: connection error ({type(exc).__name__})",
                                 error_kind="sync_failed") from None
        status = response.status_code
        if 400 <= status < 500 and status not in (408, 429):
            raise LoopsRejected(status, _error_message(response.content, response.headers.get("content-type")))
        return classify_response(vendor="loops", method=method, url=url, status=status, headers=response.headers,
                                 content=response.content)


class LoopsClient:
    http_class = LoopsHttp

    def __init__(self, base_url: str, secret_key: str, *, max_attempts: int = 3, retry_after_max: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        settings = HttpSettings(connect_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S, max_attempts=max_attempts,
                                retry_after_max=retry_after_max)
        self.http = self.http_class("loops", base_url, settings=settings, transport=transport, headers={
            "Authorization": f"Bearer {secret_key}", "Accept": "application/json"})

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return _checked(self.http.request("POST", CREATE_PATH, json_body=dict(body)))

    def update(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return _checked(self.http.request("PUT", UPDATE_PATH, json_body=dict(body)))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> LoopsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
