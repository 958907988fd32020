"""Embedding settings read once from the environment (connectors-rag §7, §14; platform §9.6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.normalize import env_int

PROVIDERS = ("local", "openai", "hashing")
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
LOCAL_MODEL, LOCAL_DIM = "use-multilingual-v3", 512
# provider -> (EMBEDDING_MODEL default, EMBEDDING_DIM default)
PROVIDER_DEFAULTS = {
    "local": (LOCAL_MODEL, LOCAL_DIM),
    "openai": ("text-embedding-3-small", 1536),
    "hashing": ("char-ngram-hash", 384),
}


@dataclass(frozen=True)
class EmbeddingSettings:
    provider: str = "local"  # EMBEDDINGS_PROVIDER
    model: str = LOCAL_MODEL  # EMBEDDING_MODEL (the local model and dim are fixed, §7.6)
    dim: int = LOCAL_DIM  # EMBEDDING_DIM, 128–4096
    threads: int = 2  # EMBEDDING_THREADS (local provider BLAS threads)
    local_model_path: str | None = None  # EMBEDDING_LOCAL_MODEL_PATH: dir with sp.model + weights.npz
    openai_base_url: str = OPENAI_DEFAULT_BASE_URL  # OPENAI_BASE_URL
    openai_api_key: str = field(default="", repr=False)  # OPENAI_API_KEY (never logged)
    openai_max_inputs: int = 100  # OPENAI_EMBED_MAX_INPUTS, 1–100
    openai_timeout_ms: int = 20_000  # OPENAI_TIMEOUT_MS, 1000–120000
    connect_timeout_s: int = 5  # CONNECTOR_HTTP_CONNECT_TIMEOUT_SECONDS, 1–30
    http_max_attempts: int = 3  # CONNECTOR_HTTP_MAX_ATTEMPTS, 1–10
    retry_after_max_s: int = 60  # CONNECTOR_RETRY_AFTER_MAX_SECONDS, 1–600
    search_timeout_s: int = 5  # SEARCH_TIMEOUT_SECONDS, 1–30 (one query embedding, no retries)

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"EMBEDDINGS_PROVIDER must be one of {', '.join(PROVIDERS)}, not {self.provider!r}")

    @classmethod
    def for_provider(cls, provider: str, **overrides: object) -> EmbeddingSettings:
        """Settings with the provider's default model and dim (handy in tests)."""
        model, dim = PROVIDER_DEFAULTS.get(provider, (LOCAL_MODEL, LOCAL_DIM))
        return cls(**{"provider": provider, "model": model, "dim": dim, **overrides})  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EmbeddingSettings:
        """Read the variables above; an unknown ``EMBEDDINGS_PROVIDER`` raises ``ValueError``."""
        provider = (environ.get("EMBEDDINGS_PROVIDER") or "local").strip().lower()
        model, dim = PROVIDER_DEFAULTS.get(provider, (LOCAL_MODEL, LOCAL_DIM))
        if provider != "local":
            model = (environ.get("EMBEDDING_MODEL") or "").strip() or model
            dim = env_int("EMBEDDING_DIM", dim, 128, 4096, environ)
        return cls(
            provider=provider,
            model=model,
            dim=dim,
            threads=env_int("EMBEDDING_THREADS", 2, 1, 64, environ),
            local_model_path=(environ.get("EMBEDDING_LOCAL_MODEL_PATH") or "").strip() or None,
            openai_base_url=(environ.get("OPENAI_BASE_URL") or "").strip().rstrip("/") or OPENAI_DEFAULT_BASE_URL,
            openai_api_key=(environ.get("OPENAI_API_KEY") or "").strip(),
            openai_max_inputs=env_int("OPENAI_EMBED_MAX_INPUTS", 100, 1, 100, environ),
            openai_timeout_ms=env_int("OPENAI_TIMEOUT_MS", 20_000, 1000, 120_000, environ),
            connect_timeout_s=env_int("CONNECTOR_HTTP_CONNECT_TIMEOUT_SECONDS", 5, 1, 30, environ),
            http_max_attempts=env_int("CONNECTOR_HTTP_MAX_ATTEMPTS", 3, 1, 10, environ),
            retry_after_max_s=env_int("CONNECTOR_RETRY_AFTER_MAX_SECONDS", 60, 1, 600, environ),
            search_timeout_s=env_int("SEARCH_TIMEOUT_SECONDS", 5, 1, 30, environ),
        )
