"""Character n-gram hashing "embeddings" for tests: deterministic, no model files (§7.1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from shared.embeddings.base import EmbeddingProvider


class HashingProvider(EmbeddingProvider):
    name: ClassVar[str] = "hashing"
    max_batch = 1000

    def __init__(self, dim: int = 384, model: str = "char-ngram-hash") -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.model, self.dim = model, dim
        self._vectorizer = HashingVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), n_features=dim, alternate_sign=False, norm="l2")

    def _embed_raw(self, texts: list[str]) -> tuple[Sequence[Any], dict[int, str], str | None]:
        vectors = self._vectorizer.transform(texts).toarray().astype(np.float32)
        empty = ~vectors.any(axis=1)
        vectors[empty, 0] = 1.0  # a text without n-grams (" ") still gets a unit vector
        return vectors, {}, None
