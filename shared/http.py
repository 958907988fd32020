"""The one vendor HTTP client (connectors-rag §1.3–§1.4, platform §9.6).

``VendorHttp`` wraps one ``httpx.Client`` per job: (connect, read) timeouts, bodies read as bytes
and decoded with the ``Content-Type`` charset (UTF-8 by default, ``errors="replace"``), JSON parsed
into an object, every failure classified once (``classify_response``):

=====================================================  ==================================================
condition                                              raised
=====================================================  ==================================================
connect failure, reset, timeout                        ``TransientError(error_kind="sync_failed")``
HTTP 408, 429, 5xx                                     ``TransientError(error_kind="http_<status>")``
GraphQL ``RATELIMITED`` (any status; Linear sends 400)  ``TransientError(error_kind="rate_limited")``
2xx that is not a JSON object                          ``TransientError(error_kind="invalid_json")``
HTTP 401/403, GraphQL AUTHENTICATION_ERROR/FORBIDDEN   ``UpstreamClientError(error_kind="auth_failed")``
HTTP 404                                               ``UpstreamClientError(error_kind="not_found")``
other 4xx                                              ``UpstreamClientError(error_kind="http_<status>")``
other GraphQL ``errors``                               ``UpstreamClientError(error_kind="graphql_error")``
=====================================================  ==================================================

Transient errors are retried in-job by ``shared.retry.vendor_retrying`` (named delays from
``Retry-After`` / ``X-RateLimit-Requests-Reset``; above the cap the error goes straight to RQ).
``shared.retry`` logs one WARNING per retry with the method and the URL without its query string;
tokens, auth headers and bodies are never logged nor put into exception messages.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from shared.errors import TransientError, UpstreamClientError
from shared.normalize import env_int
from shared.retry import parse_reset_epoch_ms, parse_retry_after, vendor_retrying

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({408, 429})
AUTH_CODES = frozenset({"AUTHENTICATION_ERROR", "FORBIDDEN"})
RATE_LIMIT_CODE = "RATELIMITED"
LIMITER_TIMEOUT_S = 30.0


class Limiter(Protocol):
    """The per-vendor request budget (``shared.ratelimit.VendorRateLimiter``)."""

    def acquire(self, timeout: float | None = ...) -> bool: ...


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_attempts: int = 3
    retry_after_max: float = 60.0

    @classmethod
    def from_settings(cls, settings: Any) -> HttpSettings:
        """Timeouts from ``settings.environ`` (§14), attempts and the named-delay cap from ``Settings``."""
        env = settings.environ
        return cls(
            connect_timeout=env_int("CONNECTOR_HTTP_CONNECT_TIMEOUT_SECONDS", 5, 1, 30, env),
            read_timeout=env_int("CONNECTOR_HTTP_TIMEOUT_SECONDS", 20, 1, 120, env),
            max_attempts=settings.connector_http_max_attempts,
            retry_after_max=settings.connector_retry_after_max_seconds,
        )


def safe_url(url: str | httpx.URL) -> str:
    """The URL without query string, fragment or user info (what logs and messages may show)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def decode_body(content: bytes, content_type: str | None) -> str:
    """Bytes → text with the ``Content-Type`` charset (default UTF-8); undecodable bytes become U+FFFD."""
    charset = "utf-8"
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    try:
        return content.decode(charset, errors="replace")
    except LookupError:  # unknown charset name
        return content.decode("utf-8", errors="replace")


def parse_json(text: str) -> Any:
    """The parsed document, or ``ValueError`` when the text is not JSON."""
    if not text.strip():
        raise ValueError("empty body")
    return json.loads(text)


def _graphql_codes(payload: Any) -> list[str]:
    if not isinstance(payload, dict) or not isinstance(payload.get("errors"), list):
        return []
    codes = []
    for err in payload["errors"]:
        ext = err.get("extensions") if isinstance(err, dict) else None
        code = ext.get("code") if isinstance(ext, dict) else None
        codes.append(str(code) if code else "")
    return codes


def _vendor_code(payload: Any) -> str | None:
    """A short machine code from a vendor error body (never its free text)."""
    if isinstance(payload, dict):
        for key in ("code", "type"):
            if isinstance(payload.get(key), str):
                return payload[key][:60]
    return None


def classify_response(*, vendor: str, method: str, url: str, status: int, headers: Mapping[str, str],
                      content: bytes, graphql: bool = False) -> dict[str, Any]:
    """The JSON object of a good answer, or the classified exception (§1.4). Pure; tested without HTTP."""
    where = f"{vendor} {method} {safe_url(url)}"
    text = decode_body(content, headers.get("content-type"))
    try:
        payload: Any = parse_json(text)
        parsed = True
    except ValueError:
        payload, parsed = None, False
    codes = _graphql_codes(payload) if graphql else []
    if RATE_LIMIT_CODE in codes:
        delay = parse_reset_epoch_ms(headers.get("x-ratelimit-requests-reset"))
        if delay is None:
            delay = parse_retry_after(headers.get("retry-after"))
        raise TransientError(f"{where}: rate limited (RATELIMITED, HTTP {status})", retry_after=delay,
                             error_kind="rate_limited", status=status)
    if status in (401, 403) or AUTH_CODES.intersection(codes):
        raise UpstreamClientError(f"{where}: authentication failed (HTTP {status})", status=status,
                                  error_kind="auth_failed")
    if status in TRANSIENT_STATUSES or status >= 500:
        raise TransientError(f"{where}: HTTP {status}", retry_after=parse_retry_after(headers.get("retry-after")),
                             error_kind=f"http_{status}", status=status)
    if status == 404:
        raise UpstreamClientError(f"{where}: not found (HTTP 404)", status=status, error_kind="not_found")
    if 400 <= status < 500:
        code = ",".join(c for c in codes if c) or _vendor_code(payload)
        detail = f" ({code})" if code else ""
        raise UpstreamClientError(f"{where}: HTTP {status}{detail}", status=status, error_kind=f"http_{status}")
    if not 200 <= status < 300:  # 1xx/3xx never reach us with follow_redirects off; treat as transient
        raise TransientError(f"{where}: unexpected HTTP {status}", error_kind=f"http_{status}", status=status)
    if not parsed or not isinstance(payload, dict):
        kind = "not a JSON object" if parsed else "malformed JSON"
        raise TransientError(f"{where}: {kind} in a {status} answer", error_kind="invalid_json", status=status)
    if codes:
        raise UpstreamClientError(f"{where}: GraphQL error ({','.join(c for c in codes if c) or 'unknown'})",
                                  status=status, error_kind="graphql_error")
    return payload


class VendorHttp:
    """One vendor's HTTP session for one job: ``get``/``post`` return the parsed JSON object.

    ``sleep`` is the swap point for the retry waits (tests record the waits instead of sleeping).
    """

    client_class = httpx.Client
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, vendor: str, base_url: str, *, headers: Mapping[str, str] | None = None,
                 settings: HttpSettings | None = None, limiter: Limiter | None = None, graphql: bool = False,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.vendor, self.graphql, self.limiter = vendor, graphql, limiter
        self.settings = settings or HttpSettings()
        self.base_url = base_url.rstrip("/")
        timeout = httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout)
        self.client = self.client_class(headers=dict(headers or {}), timeout=timeout, transport=transport,
                                        follow_redirects=False)
        self.requests_sent = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> VendorHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls -----------------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def post(self, path: str, json_body: Any = None) -> dict[str, Any]:
        return self.request("POST", path, json_body=json_body)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None) -> dict[str, Any]:
        url = self.url(path)
        retrying = vendor_retrying(operation=f"{self.vendor} {method} {safe_url(url)}",
                                   max_attempts=self.settings.max_attempts,
                                   max_named_delay=self.settings.retry_after_max, sleep=self.sleep)
        return retrying(self._once, method, url, params, json_body)

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if not path:
            return self.base_url
        return f"{self.base_url}/{path.lstrip('/')}"

    def _once(self, method: str, url: str, params: Mapping[str, Any] | None, json_body: Any) -> dict[str, Any]:
        if self.limiter is not None and not self.limiter.acquire(LIMITER_TIMEOUT_S):
            raise TransientError(f"{self.vendor}: no request slot from the rate limiter within "
                                 f"{LIMITER_TIMEOUT_S:.0f}s", error_kind="rate_limited")
        self.requests_sent += 1
        try:
            response = self.client.request(method, url, params=params, json=json_body)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.vendor} {method} {safe_url(url)}: timeout ({type(exc).__name__})",
                                 error_kind="sync_failed") from None
        except httpx.TransportError as exc:
            raise TransientError(f"{self.vendor} {method} {safe_url(url)}: connection error ({type(exc).__name__})",
                                 error_kind="sync_failed") from None
        return classify_response(vendor=self.vendor, method=method, url=url, status=response.status_code,
                                 headers=response.headers, content=response.content, graphql=self.graphql)


def vendor_limiter(vendor: str, runtime: Any) -> Limiter | None:
    """The shared per-vendor Redis limiter of ``runtime`` (None when it cannot be built)."""
    try:
        from shared.ratelimit import VendorRateLimiter

        return VendorRateLimiter.for_vendor(vendor, runtime.redis, runtime.settings.environ)
    except Exception:  # noqa: BLE001 - the limiter is a courtesy; the vendor's own 429 still applies
        log.warning("vendor rate limiter unavailable", extra={"fields": {"vendor": vendor}})
        return None
