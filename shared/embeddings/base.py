"""The embedding provider interface (connectors-rag §7.1) and input preparation (§7.4 step 3.2)."""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from shared.embeddings.errors import (
    EmbeddingClientError,
    EmbeddingDimensionMismatch,
    EmbeddingTransientError,
)

MAX_INPUT_CHARS = 8000
_WS_RE = re.compile(r"\s+")

# Per-chunk failure codes (§7.2, §7.4 step 3.4).
MISSING = "embedding_missing_from_provider"
DIM_MISMATCH = "embedding_dimension_mismatch"
REJECTED = "embedding_rejected_by_provider"


def prepare_text(text: str | None) -> str:
    """Whitespace collapsed, trimmed, cut to 8 000 characters; empty → ``" "``."""
    s = _WS_RE.sub(" ", text or "").strip()[:MAX_INPUT_CHARS]
    return s or " "


@dataclass(frozen=True)
class EmbeddingBatch:
    """Vectors for a list of inputs, with the inputs that got none.

    ``vectors`` is ``(n, dim)`` float32 with L2-normalised rows; a row listed in ``errors``
    (index → one of the per-chunk codes above) is all zeros and must not be stored.
    """

    vectors: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)
    response_model: str | None = None  # what the remote server said it used (job meta only)

    @property
    def ok_indexes(self) -> list[int]:
        return [i for i in range(len(self.vectors)) if i not in self.errors]


class EmbeddingProvider(ABC):
    """One embedding model. Subclasses set ``name``, ``model``, ``dim``, ``max_batch`` and ``_embed_raw``."""

    name: ClassVar[str]
    model: str
    dim: int
    max_batch: int = 64

    @property
    def model_key(self) -> str:
        return f"{self.name}:{self.model}:{self.dim}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.model_key}>"

    @abstractmethod
    def _embed_raw(self, texts: list[str]) -> tuple[Sequence[Any], dict[int, str], str | None]:
        """Embed at most ``max_batch`` prepared texts.

        Returns one raw vector per input (``None`` when the provider gave none), per-index errors
        already known (e.g. rejected inputs), and the model name the provider reported.
        """

    def embed_batch(self, texts: Sequence[str]) -> EmbeddingBatch:
        """Prepare, embed in sub-batches of ``max_batch``, validate and L2-normalise.

        Raises ``EmbeddingDimensionMismatch`` when every vector of a provider call has the wrong
        length (a configuration error), other ``EmbeddingError`` subclasses for call failures.
        """
        prepared = [prepare_text(t) for t in texts]
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        errors: dict[int, str] = {}
        response_model = None
        for start in range(0, len(prepared), self.max_batch):
            part = prepared[start:start + self.max_batch]
            raw, known, response_model = self._embed_raw(part)
            if len(raw) != len(part):
                raise EmbeddingTransientError(f"{self.name} returned {len(raw)} vectors for {len(part)} inputs",
                                              error_kind="invalid_response")
            if not known and self._store_matrix(raw, out[start:start + len(part)], errors, start):
                continue
            wrong_dim = 0
            for i, vec in enumerate(raw):
                code = known.get(i) or self._store_row(vec, out[start + i])
                if code is not None:
                    errors[start + i] = code
                    wrong_dim += code == DIM_MISMATCH
            if part and wrong_dim == len(part):
                raise EmbeddingDimensionMismatch(
                    f"{self.name}: every vector of a batch has the wrong length (expected {self.dim})")
        return EmbeddingBatch(out, errors, response_model)

    def _store_matrix(self, raw: Any, rows: np.ndarray, errors: dict[int, str], offset: int) -> bool:
        """The common case in one numpy pass: ``raw`` is an ``(n, dim)`` array. Same checks and result
        as ``_store_row`` per row (non-finite or zero rows → ``MISSING``); False when not applicable."""
        if not isinstance(raw, np.ndarray) or raw.ndim != 2 or raw.shape != rows.shape:
            return False
        arr = raw.astype(np.float64, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            norms = np.linalg.norm(arr, axis=1)
        good = np.isfinite(arr).all(axis=1) & np.isfinite(norms) & (norms != 0.0)
        if good.all():
            rows[:] = arr / norms[:, None]
            return True
        rows[good] = arr[good] / norms[good, None]
        errors.update({offset + int(i): MISSING for i in np.flatnonzero(~good)})
        return True

    def _store_row(self, vec: Any, row: np.ndarray) -> str | None:
        if vec is None:
            return MISSING
        try:
            arr = np.asarray(vec, dtype=np.float64)
        except (TypeError, ValueError):
            return MISSING
        if arr.ndim != 1:
            return MISSING
        if arr.shape[0] != self.dim:
            return DIM_MISMATCH
        norm = float(np.linalg.norm(arr)) if np.isfinite(arr).all() else math.nan
        if not math.isfinite(norm) or norm == 0.0:
            return MISSING
        row[:] = arr / norm
        return None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, dim)`` float32, L2-normalised; an input without a valid vector raises an ``EmbeddingError``."""
        batch = self.embed_batch(texts)
        if batch.errors:
            i, code = min(batch.errors.items())
            message = f"{self.name}: input {i} got no valid vector ({code})"
            if code == REJECTED:
                raise EmbeddingClientError(message, status=400, error_kind=code)
            raise EmbeddingTransientError(message, error_kind=code)
        return batch.vectors

    def embed_query(self, text: str) -> np.ndarray:
        """One ``(dim,)`` query vector. Symmetric models embed queries like documents."""
        return self.embed([text])[0]
