"""Embedding providers (connectors-rag §7): ``provider_for(settings).embed(texts)``.

Importing this package loads no model and opens no connection.
"""

from shared.embeddings.base import EmbeddingBatch, EmbeddingProvider, prepare_text
from shared.embeddings.errors import (
    EmbeddingClientError,
    EmbeddingDimensionMismatch,
    EmbeddingError,
    EmbeddingTimeout,
    EmbeddingTransientError,
    MissingCredentials,
    ProviderUnavailable,
)
from shared.embeddings.factory import active_provider, clear_provider_cache, get_provider, provider_for
from shared.embeddings.settings import EmbeddingSettings

__all__ = [
    "active_provider",
    "EmbeddingBatch",
    "EmbeddingClientError",
    "EmbeddingDimensionMismatch",
    "EmbeddingError",
    "EmbeddingProvider",
    "EmbeddingSettings",
    "EmbeddingTimeout",
    "EmbeddingTransientError",
    "MissingCredentials",
    "ProviderUnavailable",
    "clear_provider_cache",
    "get_provider",
    "prepare_text",
    "provider_for",
]
