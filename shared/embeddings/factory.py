"""Build the configured provider; keep one per process (connectors-rag §7.1)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from shared.embeddings.base import EmbeddingProvider
from shared.embeddings.errors import ProviderUnavailable
from shared.embeddings.settings import EmbeddingSettings


def _as_settings(settings: Any) -> EmbeddingSettings:
    if isinstance(settings, EmbeddingSettings):
        return settings
    if isinstance(settings, Mapping):  # an environment mapping
        return EmbeddingSettings.from_env(settings)
    nested = getattr(settings, "embeddings", None)  # an app Settings holding ours
    if isinstance(nested, EmbeddingSettings):
        return nested
    raise TypeError(f"expected EmbeddingSettings or an environment mapping, got {type(settings).__name__}")


def get_provider(settings: EmbeddingSettings | Mapping[str, str] | Any) -> EmbeddingProvider:
    """A new provider for ``settings``; raises ``ProviderUnavailable`` / ``MissingCredentials``."""
    s = _as_settings(settings)
    if s.provider == "local":
        from shared.embeddings.local import LocalUSEProvider

        return LocalUSEProvider(threads=s.threads, model_path=s.local_model_path)
    if s.provider == "openai":
        from shared.embeddings.openai import OpenAIProvider

        return OpenAIProvider.from_settings(s)
    if s.provider == "hashing":
        from shared.embeddings.hashing import HashingProvider

        return HashingProvider(dim=s.dim, model=s.model)
    raise ProviderUnavailable(f"unknown embeddings provider {s.provider!r}")


class _ProviderCache:
    """Providers by settings, for the life of this process (dropped in a forked child)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._providers: dict[EmbeddingSettings, EmbeddingProvider] = {}

    def get(self, settings: EmbeddingSettings) -> EmbeddingProvider:
        with self._lock:
            if self._pid != os.getpid():  # nothing live crosses a fork
                self._providers, self._pid = {}, os.getpid()
            provider = self._providers.get(settings)
            if provider is None:
                provider = self._providers[settings] = get_provider(settings)
            return provider

    def clear(self) -> None:
        with self._lock:
            self._providers = {}


_cache = _ProviderCache()


def provider_for(settings: EmbeddingSettings | Mapping[str, str] | Any) -> EmbeddingProvider:
    """The shared provider for ``settings``: built on first use, then the same instance every call.

    A provider that cannot be built raises each time it is asked for (nothing is cached).
    """
    return _cache.get(_as_settings(settings))


def clear_provider_cache() -> None:
    _cache.clear()


def active_provider(environ: Mapping[str, str]) -> EmbeddingProvider:
    """The process's shared provider for ``EMBEDDINGS_PROVIDER`` & co. in ``environ``.

    Raises ``ProviderUnavailable`` (reason ``provider_unavailable`` or ``missing_credentials``),
    also for an unknown provider name.
    """
    try:
        settings = EmbeddingSettings.from_env(environ)
    except ValueError as exc:
        raise ProviderUnavailable(str(exc)) from None
    return provider_for(settings)
