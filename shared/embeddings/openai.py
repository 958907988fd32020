"""OpenAI-compatible ``POST {base}/embeddings`` provider (connectors-rag §7.2, HTTP policy §1.3–§1.4)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx
import numpy as np
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from shared.embeddings.base import REJECTED, EmbeddingProvider, prepare_text
from shared.embeddings.errors import (
    EmbeddingClientError,
    EmbeddingTimeout,
    EmbeddingTransientError,
    MissingCredentials,
)
from shared.embeddings.settings import OPENAI_DEFAULT_BASE_URL, EmbeddingSettings

log = logging.getLogger(__name__)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as delta-seconds or an HTTP-date → seconds to wait (≥ 0); else ``None``."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _invalid(message: str) -> EmbeddingTransientError:
    return EmbeddingTransientError(message, error_kind="invalid_response")


class OpenAIProvider(EmbeddingProvider):
    name: ClassVar[str] = "openai"
    # Swap points for tests and subclasses (platform §9.6 policy by default).
    backoff: ClassVar[Callable[[RetryCallState], float]] = wait_random_exponential(multiplier=0.5, max=8)
    sleep: ClassVar[Callable[[float], None]] = staticmethod(time.sleep)

    def __init__(
        self,
        *,
        model: str = "text-embedding-3-small",
        dim: int = 1536,
        base_url: str = OPENAI_DEFAULT_BASE_URL,
        api_key: str = "",
        max_inputs: int = 100,
        timeout_s: float = 20.0,
        connect_timeout_s: float = 5.0,
        max_attempts: int = 3,
        retry_after_max_s: float = 60.0,
        search_timeout_s: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        base_url = base_url.rstrip("/")
        if not api_key and base_url == OPENAI_DEFAULT_BASE_URL:
            raise MissingCredentials("OPENAI_API_KEY is empty for the default OpenAI base URL")
        self.model, self.dim, self.max_batch = model, dim, max_inputs
        self.url = f"{base_url}/embeddings"
        self.max_attempts, self.retry_after_max_s = max_attempts, retry_after_max_s
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._query_timeout = httpx.Timeout(search_timeout_s, connect=min(connect_timeout_s, search_timeout_s))
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s))

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings, client: httpx.Client | None = None) -> OpenAIProvider:
        return cls(
            model=settings.model,
            dim=settings.dim,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            max_inputs=settings.openai_max_inputs,
            timeout_s=settings.openai_timeout_ms / 1000,
            connect_timeout_s=settings.connect_timeout_s,
            max_attempts=settings.http_max_attempts,
            retry_after_max_s=settings.retry_after_max_s,
            search_timeout_s=settings.search_timeout_s,
            client=client,
        )

    def close(self) -> None:
        self._client.close()

    # --- provider interface ----------------------------------------------------------------------
    def _embed_raw(self, texts: list[str]) -> tuple[Sequence[Any], dict[int, str], str | None]:
        vectors: list[Any] = [None] * len(texts)
        errors: dict[int, str] = {}
        rejections: list[EmbeddingClientError] = []
        model = self._embed_bisecting(texts, 0, vectors, errors, rejections)
        if len(texts) > 1 and len(errors) == len(texts):
            # Every single input refused: the request itself is wrong (model, account), not the texts.
            raise rejections[0]
        return vectors, errors, model

    def embed_query(self, text: str) -> np.ndarray:
        """One call, no retries, ``SEARCH_TIMEOUT_SECONDS`` timeout (§9.2)."""
        vectors, _ = self._post([prepare_text(text)], timeout=self._query_timeout)
        row = np.zeros(self.dim, dtype=np.float32)
        code = self._store_row(vectors[0], row)
        if code is not None:
            raise EmbeddingTransientError(f"openai: the query got no valid vector ({code})", error_kind=code)
        return row

    # --- bisection of a refused batch ------------------------------------------------------------
    def _embed_bisecting(self, texts: list[str], offset: int, vectors: list[Any], errors: dict[int, str],
                         rejections: list[EmbeddingClientError]) -> str | None:
        try:
            got, model = self._post_with_retries(texts)
        except EmbeddingClientError as exc:
            if exc.status != 400:
                raise
            rejections.append(exc)
            if len(texts) == 1:
                errors[offset] = REJECTED
                return None
            mid = len(texts) // 2
            left = self._embed_bisecting(texts[:mid], offset, vectors, errors, rejections)
            right = self._embed_bisecting(texts[mid:], offset + mid, vectors, errors, rejections)
            return left or right
        vectors[offset:offset + len(got)] = got
        return model

    # --- HTTP ------------------------------------------------------------------------------------
    def _post_with_retries(self, texts: list[str]) -> tuple[list[Any], str | None]:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(self._retryable),
            before_sleep=self._log_retry,
            sleep=type(self).sleep,
            reraise=True,
        )
        return retrying(self._post, texts)

    def _retryable(self, exc: BaseException) -> bool:
        if not isinstance(exc, EmbeddingTransientError):
            return False
        # A named delay above the cap stops in-job retrying: the RQ retry takes over (§1.3).
        return exc.retry_after is None or exc.retry_after <= self.retry_after_max_s

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        named = getattr(exc, "retry_after", None)
        return float(named) if named is not None else type(self).backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("embedding request retry: POST %s status=%s kind=%s attempt=%s",
                    self.url, getattr(exc, "status", None), getattr(exc, "error_kind", None),
                    state.attempt_number)

    def _post(self, texts: list[str], timeout: httpx.Timeout | None = None) -> tuple[list[Any], str | None]:
        body = {"model": self.model, "input": texts}
        try:
            if timeout is None:
                response = self._client.post(self.url, json=body, headers=self._headers)
            else:
                response = self._client.post(self.url, json=body, headers=self._headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise EmbeddingTimeout(f"embedding request timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise EmbeddingTransientError(f"embedding request failed ({type(exc).__name__})",
                                          error_kind="connection_error") from exc
        status = response.status_code
        if status in (408, 429) or status >= 500:
            raise EmbeddingTransientError(f"embedding provider answered HTTP {status}", status=status,
                                          error_kind=f"http_{status}",
                                          retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status in (401, 403):
            raise EmbeddingClientError(f"embedding provider refused the credentials (HTTP {status})",
                                       status=status, error_kind="auth_failed")
        if status == 404:
            raise EmbeddingClientError("embedding endpoint or model not found (HTTP 404)", status=status,
                                       error_kind="not_found")
        if not 200 <= status < 300:
            raise EmbeddingClientError(f"embedding provider answered HTTP {status}", status=status,
                                       error_kind=f"http_{status}")
        return self._parse(response, len(texts))

    @staticmethod
    def _parse(response: httpx.Response, n: int) -> tuple[list[Any], str | None]:
        try:
            text = response.content.decode(response.charset_encoding or "utf-8", errors="replace")
        except LookupError:  # unknown charset name
            text = response.content.decode("utf-8", errors="replace")
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise EmbeddingTransientError("embedding response is not a JSON object", error_kind="invalid_json")
        data = payload.get("data")
        if not isinstance(data, list) or len(data) != n:
            count = len(data) if isinstance(data, list) else "no"
            raise _invalid(f"embedding response has {count} items for {n} inputs")
        vectors: list[Any] = [None] * n
        seen: set[int] = set()
        for item in data:
            index = item.get("index") if isinstance(item, dict) else None
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n or index in seen:
                raise _invalid("embedding response has a missing, duplicated or out-of-range index")
            seen.add(index)
            vectors[index] = item.get("embedding")
        model = payload.get("model")
        return vectors, model if isinstance(model, str) else None
