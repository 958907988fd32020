"""Embedding provider errors, placed in the project's error tree (shared/errors.py).

The embeddings job maps ``ProviderUnavailable`` to ``JobSkipped(e.reason)``; the web layer maps it
to ``503 embeddings_unavailable``, ``EmbeddingTimeout`` to ``504 search_timeout`` and any other
``EmbeddingError`` to ``502 embedding_provider_error`` (connectors-rag §9.2).
"""

from __future__ import annotations

from shared.errors import ConfigurationError, ServiceUnavailable, TransientError, UpstreamClientError


class ProviderUnavailable(ServiceUnavailable):
    """The configured provider cannot be used here (model files missing, no credentials)."""

    code = "embeddings_unavailable"
    reason = "provider_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message=message)


class MissingCredentials(ProviderUnavailable):
    reason = "missing_credentials"


class EmbeddingError(Exception):
    """Marker base of the errors raised while calling a provider."""


class EmbeddingTransientError(EmbeddingError, TransientError):
    """Retryable: connection error, timeout, 408/429/5xx, malformed JSON, ``invalid_response``."""


class EmbeddingTimeout(EmbeddingTransientError):
    def __init__(self, message: str) -> None:
        super().__init__(message, error_kind="timeout")


class EmbeddingClientError(EmbeddingError, UpstreamClientError):
    """Permanent: 401/403 (``auth_failed``), 404 (``not_found``), other 4xx (``http_<status>``)."""


class EmbeddingDimensionMismatch(EmbeddingError, ConfigurationError):
    """Every vector of a batch had the wrong length: ``EMBEDDING_DIM`` does not match the model."""

    error_kind = "embedding_dimension_mismatch"
