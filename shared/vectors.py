"""Chunk vectors in a Chroma server, one collection per project and model (connectors-rag §8).

``VectorStore`` owns the client (created on first use, never at import, never a
``PersistentClient``); ``store.collection(project_id, model_key)`` is a handle on one collection.
Vectors are always passed explicitly: collections are opened with ``embedding_function=None``
so chromadb never loads (or downloads) its default model.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np

from shared.errors import ServiceUnavailable
from shared.normalize import env_int

COLLECTION_PREFIX = "rag_"
ITEM_OPTIONAL_FIELDS = ("conversation_global_id", "message_global_id", "contact_global_id")


class VectorStoreUnavailable(ServiceUnavailable):
    """The Chroma server cannot be reached (retryable in a job; 503 on the web)."""

    code = "vector_store_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message=message)


@dataclass(frozen=True)
class VectorStoreSettings:
    mode: str = "http"  # CHROMA_MODE: "http", or "ephemeral" (in-process, unit tests only)
    host: str = "127.0.0.1"  # CHROMA_HOST
    port: int = 8000  # CHROMA_PORT
    ef_search: int = 40  # SEARCH_HNSW_EF_SEARCH, 1–1000

    def __post_init__(self) -> None:
        if self.mode not in ("http", "ephemeral"):
            raise ValueError(f"CHROMA_MODE must be 'http' or 'ephemeral', not {self.mode!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> VectorStoreSettings:
        return cls(
            mode=(environ.get("CHROMA_MODE") or "http").strip().lower(),
            host=(environ.get("CHROMA_HOST") or "").strip() or "127.0.0.1",
            port=env_int("CHROMA_PORT", 8000, 1, 65535, environ),
            ef_search=env_int("SEARCH_HNSW_EF_SEARCH", 40, 1, 1000, environ),
        )


def project_prefix(project_id: uuid.UUID | str) -> str:
    return f"{COLLECTION_PREFIX}{uuid.UUID(str(project_id)).hex}_"


def collection_name(project_id: uuid.UUID | str, model_key: str) -> str:
    """``rag_{project uuid hex}_{sha1(model_key)[:8]}`` (45 characters)."""
    return project_prefix(project_id) + hashlib.sha1(model_key.encode("utf-8")).hexdigest()[:8]


def epoch_seconds(ts: datetime | None) -> int:
    if ts is None:
        return 0
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    return int(ts.timestamp())


def chunk_metadata(chunk: Mapping[str, Any] | Any, project_id: uuid.UUID | str | None = None) -> dict[str, Any]:
    """The §8 item metadata of a chunk row (a mapping or an object); null optional ids are left out."""
    def get(name: str) -> Any:
        return chunk.get(name) if isinstance(chunk, Mapping) else getattr(chunk, name, None)

    meta: dict[str, Any] = {
        "project_id": str(project_id if project_id is not None else get("project_id")),
        "source_type": get("source_type"),
        "source_table": get("source_table"),
        "source_pk": str(get("source_pk")),
        "chunk_index": int(get("chunk_index")),
        "text_hash": get("text_hash"),
        "source_ts": epoch_seconds(get("source_ts")),
    }
    for name in ITEM_OPTIONAL_FIELDS:
        value = get(name)
        if value is not None:
            meta[name] = value
    return meta


def where_filter(
    *,
    source_types: Sequence[str] | None = None,
    ts_from: datetime | None = None,
    ts_to: datetime | None = None,
    conversation_global_id: str | None = None,
) -> dict[str, Any] | None:
    """The §9.3 ``where``: clauses combined with ``$and`` when more than one; ``None`` when empty."""
    clauses: list[dict[str, Any]] = []
    if source_types:
        clauses.append({"source_type": {"$in": list(source_types)}})
    if ts_from is not None:
        clauses.append({"source_ts": {"$gte": epoch_seconds(ts_from)}})
    if ts_to is not None:
        clauses.append({"source_ts": {"$lte": epoch_seconds(ts_to)}})
    if conversation_global_id is not None:
        clauses.append({"conversation_global_id": {"$eq": conversation_global_id}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass(frozen=True)
class VectorHit:
    id: str
    distance: float
    metadata: dict[str, Any]

    @property
    def dense_score(self) -> float:
        return 1.0 - self.distance


def _is_not_found(exc: Exception) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError)


class VectorCollection:
    """One project's vectors for one ``model_key``. The Chroma collection is created on first upsert."""

    def __init__(self, store: VectorStore, project_id: uuid.UUID | str, model_key: str) -> None:
        self.store = store
        self.project_id = str(uuid.UUID(str(project_id)))
        self.model_key = model_key
        self.name = collection_name(project_id, model_key)
        self._col: Any = None  # the opened chromadb collection, kept while it exists

    def __repr__(self) -> str:
        return f"<VectorCollection {self.name} {self.model_key}>"

    def _open(self, *, create: bool, dim: int | None = None) -> Any:
        if self._col is not None:
            return self._col
        client = self.store.client
        with self.store.guard():
            if create:
                self._col = client.get_or_create_collection(
                    self.name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine", "ef_search": self.store.settings.ef_search}},
                    metadata={"project_id": self.project_id, "model_key": self.model_key, "dim": int(dim or 0)},
                )
                return self._col
            try:
                self._col = client.get_collection(self.name, embedding_function=None)
            except Exception as exc:
                if _is_not_found(exc):
                    return None
                raise
            return self._col

    def _call(self, create: bool, fn: Any, dim: int | None = None) -> Any:
        """``fn(collection)``; a cached handle whose collection was dropped meanwhile is reopened once."""
        col = self._open(create=create, dim=dim)
        if col is None:
            return None
        try:
            with self.store.guard():
                return fn(col)
        except Exception as exc:
            if not _is_not_found(exc):
                raise
        self._col = None
        col = self._open(create=create, dim=dim)
        if col is None:
            return None
        with self.store.guard():
            return fn(col)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray | Sequence[Sequence[float]],
               metadatas: Sequence[Mapping[str, Any]] | None = None) -> int:
        """Write vectors by id (same id = overwrite); returns how many were written."""
        if not ids:
            return 0
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] != len(ids):
            raise ValueError(f"expected {len(ids)} vectors, got an array of shape {arr.shape}")
        str_ids = [str(i) for i in ids]
        metas = [dict(m) for m in metadatas] if metadatas is not None else None

        def replace(col: Any) -> None:
            # Chroma updates an existing id in place ~4x slower than it deletes and inserts it (measured on
            # chromadb 1.5: ~190 vs ~720 vectors/s), so ids already present are deleted first.
            present = col.get(ids=str_ids, include=[])["ids"]
            if present:
                col.delete(ids=list(present))
            col.upsert(ids=str_ids, embeddings=arr, metadatas=metas)

        self._call(True, replace, dim=arr.shape[1])
        return len(ids)

    def query(self, vector: np.ndarray | Sequence[float], k: int,
              where: Mapping[str, Any] | None = None) -> list[VectorHit]:
        """Nearest ``k`` items (cosine distance ascending); a missing collection gives ``[]``."""
        if k < 1:
            return []
        query = np.asarray(vector, dtype=np.float32)
        res = self._call(False, lambda col: col.query(query_embeddings=[query], n_results=k,
                                                      where=dict(where) if where else None,
                                                      include=["distances", "metadatas"]))
        if res is None:
            return []
        ids, distances = res["ids"][0], res["distances"][0]
        metadatas = (res.get("metadatas") or [[None] * len(ids)])[0]
        return [VectorHit(str(i), float(d), dict(m or {})) for i, d, m in zip(ids, distances, metadatas, strict=True)]

    def delete(self, ids: Sequence[str]) -> None:
        """Best effort by id; unknown ids and a missing collection are fine."""
        if not ids:
            return
        str_ids = [str(i) for i in ids]
        self._call(False, lambda col: col.delete(ids=str_ids))

    def list_ids(self, page_size: int = 1000) -> Iterator[str]:
        """Every id in the collection, page by page (for ``vector_gc``)."""
        col = self._open(create=False)
        if col is None:
            return
        offset = 0
        while True:
            with self.store.guard():
                page = col.get(limit=page_size, offset=offset, include=[])["ids"]
            yield from page
            if len(page) < page_size:
                return
            offset += len(page)

    def count(self) -> int:
        return int(self._call(False, lambda col: col.count()) or 0)

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (missing ids are absent)."""
        if not ids:
            return {}
        str_ids = [str(i) for i in ids]
        res = self._call(False, lambda col: col.get(ids=str_ids, include=["embeddings"]))
        if res is None:
            return {}
        return {str(i): np.asarray(e, dtype=np.float32) for i, e in zip(res["ids"], res["embeddings"], strict=True)}


class VectorStore:
    """The Chroma client of one process, built from settings (or handed in) on first use."""

    collection_class = VectorCollection

    def __init__(self, settings: VectorStoreSettings | None = None, *, client: Any = None) -> None:
        self.settings = settings or VectorStoreSettings()
        self._client = client
        self._lock = threading.Lock()
        self._handles: dict[tuple[str, str], VectorCollection] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.settings.mode == "ephemeral":
            return chromadb.EphemeralClient(settings=chroma_settings)
        try:
            return chromadb.HttpClient(host=self.settings.host, port=self.settings.port, settings=chroma_settings)
        except Exception as exc:  # chromadb raises ValueError("Could not connect ...") on start
            raise VectorStoreUnavailable(
                f"Chroma server at {self.settings.host}:{self.settings.port} unreachable: {exc}") from exc

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn transport failures into ``VectorStoreUnavailable``."""
        try:
            yield
        except (httpx.TransportError, ConnectionError) as exc:
            raise VectorStoreUnavailable(
                f"Chroma server at {self.settings.host}:{self.settings.port} unreachable: {exc}") from exc

    def heartbeat(self) -> bool:
        try:
            with self.guard():
                self.client.heartbeat()
        except VectorStoreUnavailable:
            return False
        return True

    def collection(self, project_id: uuid.UUID | str, model_key: str) -> VectorCollection:
        """The (cached) handle on one project's collection for ``model_key``."""
        key = (str(uuid.UUID(str(project_id))), model_key)
        handle = self._handles.get(key)
        if handle is None:
            handle = self._handles.setdefault(key, self.collection_class(self, project_id, model_key))
        return handle

    def project_collections(self, project_id: uuid.UUID | str) -> list[VectorCollection]:
        """The project's collections (any model), each with the ``model_key`` from its metadata."""
        prefix = project_prefix(project_id)
        with self.guard():
            found = [c for c in self.client.list_collections() if c.name.startswith(prefix)]
        out = []
        for col in found:
            model_key = str((col.metadata or {}).get("model_key") or "")
            handle = self.collection_class(self, project_id, model_key)
            handle.name = col.name  # trust the server's name even if the metadata is odd
            out.append(handle)
        return out

    def delete_chunk_vectors(self, project_id: uuid.UUID | str, ids: Sequence[str]) -> bool:
        """Best effort (§6.3): delete these chunk ids from every collection of the project; ``False`` when
        the server could not be reached (``vector_gc`` removes the leftovers later)."""
        if not ids:
            return True
        try:
            for col in self.project_collections(project_id):
                col.delete(ids)
        except VectorStoreUnavailable:
            return False
        return True

    def drop_project(self, project_id: uuid.UUID | str) -> int:
        """Delete every collection named ``rag_{project hex}_*``; returns how many were deleted."""
        cols = self.project_collections(project_id)
        pid = str(uuid.UUID(str(project_id)))
        for key in [k for k in self._handles if k[0] == pid]:
            self._handles.pop(key, None)
        for col in cols:
            with self.guard():
                try:
                    self.client.delete_collection(col.name)
                except Exception as exc:
                    if not _is_not_found(exc):
                        raise
        return len(cols)

