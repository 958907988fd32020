"""The ``embeddings_run`` and ``vector_gc`` jobs (connectors-rag §7.3–§7.5, §8), queue ``embeddings``.

``embeddings_run`` claims ``pending`` chunks in batches (plus ``ready`` ones of another model),
embeds them with the process's shared provider, writes the vectors to the project's Chroma
collection first and only then marks the rows ``ready``. While claimed rows remain after
``EMBED_MAX_BATCHES_PER_RUN`` batches, the result names ``embeddings_run`` as its follow-up, which
the job wrapper enqueues once this run's row is final and its lock released.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from jobs.context import report_progress
from shared.db.service import rag as svc
from shared.embeddings import EmbeddingBatch, EmbeddingProvider, ProviderUnavailable, active_provider
from shared.errors import JobSkipped, is_permanent
from shared.normalize import env_bool, env_int
from shared.runtime import current
from shared.scope import Scope
from shared.vectors import VectorCollection, VectorStoreUnavailable, chunk_metadata

GC_PAGE = 1000
WRITE_GROUP = 4  # at most this many encoded batches are written to Chroma and the database together
MIN_WRITE_GROUP = 2  # an idle writer takes what is encoded once it holds this many batches


@dataclass(frozen=True)
class EmbedJobSettings:
    batch_size: int = 100  # EMBED_BATCH_SIZE, 1–100
    max_batches: int = 10  # EMBED_MAX_BATCHES_PER_RUN, 1–100
    max_attempts: int = 5  # EMBED_MAX_ATTEMPTS, 1–50
    stale_minutes: int = 30  # EMBED_STALE_RECOVERY_MINUTES, 1–1440
    reembed_on_model_change: bool = True  # EMBED_REEMBED_ON_MODEL_CHANGE

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EmbedJobSettings:
        return cls(
            batch_size=env_int("EMBED_BATCH_SIZE", 100, 1, 100, environ),
            max_batches=env_int("EMBED_MAX_BATCHES_PER_RUN", 10, 1, 100, environ),
            max_attempts=env_int("EMBED_MAX_ATTEMPTS", 5, 1, 50, environ),
            stale_minutes=env_int("EMBED_STALE_RECOVERY_MINUTES", 30, 1, 1440, environ),
            reembed_on_model_change=env_bool("EMBED_REEMBED_ON_MODEL_CHANGE", True, environ),
        )


@dataclass
class BatchOutcome:
    """What happened to one claimed batch: vectors written (``ready``) and per-chunk failures."""

    ready: list[tuple[str, str]] = field(default_factory=list)  # (chunk id, claimed text_hash)
    failed: dict[str, str] = field(default_factory=dict)  # chunk id -> embedding_error code
    response_model: str | None = None
    marked_ready: int = 0  # rows actually moved to ready / failed (a row edited meanwhile is not)
    marked_failed: int = 0


def store_batch(collection: VectorCollection, claimed: Sequence[svc.ClaimedChunk], batch: EmbeddingBatch,
                project_id: Any) -> BatchOutcome:
    """Upsert the valid vectors of an embedded batch by chunk id; raises what the store raises."""
    ok = batch.ok_indexes
    if ok:
        collection.upsert([claimed[i].id for i in ok], batch.vectors[ok],
                          [chunk_metadata(claimed[i].metadata, project_id) for i in ok])
    return BatchOutcome(ready=[(claimed[i].id, claimed[i].text_hash) for i in ok],
                        failed={claimed[i].id: code for i, code in batch.errors.items()},
                        response_model=batch.response_model)


def embed_and_store(provider: EmbeddingProvider, collection: VectorCollection,
                    claimed: Sequence[svc.ClaimedChunk], project_id: Any) -> BatchOutcome:
    """Embed the claimed texts (validated, L2-normalised) and upsert the valid vectors by chunk id."""
    return store_batch(collection, claimed, provider.embed_batch([c.text for c in claimed]), project_id)


def resolve_provider(environ: Mapping[str, str]) -> EmbeddingProvider:
    """The process's shared provider; unavailable → ``JobSkipped`` (§7.4 step 1)."""
    try:
        return active_provider(environ)
    except ProviderUnavailable as exc:
        provider = (environ.get("EMBEDDINGS_PROVIDER") or "local").strip().lower()
        raise JobSkipped(exc.reason, {"provider": provider, "message": str(exc)[:400]}) from None


def embeddings_run(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    rt = current()
    cfg = EmbedJobSettings.from_env(rt.settings.environ)
    provider = resolve_provider(rt.settings.environ)
    model = (provider.name, provider.model, provider.dim)
    fill_model = model if cfg.reembed_on_model_change else None
    with rt.transaction() as s:
        recovered = svc.recover_stale(s, scope, older_than=timedelta(minutes=cfg.stale_minutes))
        reset = svc.reset_failed(s, scope) if params.get("retry_failed") is True else 0
        total = svc.count_pending(s, scope, model=fill_model)
    collection = rt.vectors.collection(scope.project_id, provider.model_key)
    counts = {"processed": 0, "failed": 0, "batches": 0}
    response_model = None

    def collect(done: Future[BatchOutcome]) -> None:
        nonlocal response_model
        outcome = done.result()
        counts["processed"] += outcome.marked_ready
        counts["failed"] += outcome.marked_failed
        response_model = outcome.response_model or response_model
        finished = counts["processed"] + counts["failed"]
        report_progress(finished, max(total, finished), batches=counts["batches"], processed=counts["processed"],
                        failed=counts["failed"])

    # Pipeline, so that the model is never idle: a claimer thread claims the next batch while this one
    # encodes the current one, and a writer thread writes encoded batches (one Chroma upsert, then the
    # rows) as soon as it is free, at most WRITE_GROUP batches at a time (grouping halves Chroma's work
    # per vector; writing whenever the writer is idle keeps the last, unoverlapped write small).
    claimer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embeddings-claim")
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embeddings-writer")

    def claim() -> list[svc.ClaimedChunk]:
        with rt.transaction() as s:
            return svc.claim_batch(s, scope, limit=cfg.batch_size, model=fill_model)

    in_flight: Future[BatchOutcome] | None = None
    group: list[tuple[list[svc.ClaimedChunk], EmbeddingBatch]] = []
    upcoming: Future[list[svc.ClaimedChunk]] | None = claimer.submit(claim)
    try:
        for n in range(cfg.max_batches):
            claimed = upcoming.result()
            upcoming = claimer.submit(claim) if claimed and n + 1 < cfg.max_batches else None
            if claimed:
                counts["batches"] += 1
                try:
                    group.append((claimed, provider.embed_batch([c.text for c in claimed])))
                except Exception as exc:
                    earlier = [c for g in group for c in g[0]]  # encoded, not written: not at fault
                    if earlier:
                        _release(scope, earlier, exc, cfg, undo=True)
                    _release(scope, claimed, exc, cfg)
                    raise
            last = upcoming is None
            writer_idle = in_flight is None or in_flight.done()
            if group and (last or len(group) >= WRITE_GROUP or (writer_idle and len(group) >= MIN_WRITE_GROUP)):
                if in_flight is not None:
                    try:
                        collect(in_flight)
                    except Exception as exc:  # the previous write failed: these batches are not at fault
                        _release(scope, [c for g in group for c in g[0]], exc, cfg, undo=True)
                        raise
                in_flight = writer.submit(_write, rt, scope, collection, *merge(group), model, cfg)
                group = []
            if last:
                break
        if in_flight is not None:
            collect(in_flight)
    finally:
        _abandon(scope, upcoming, cfg)
        claimer.shutdown(wait=True)
        writer.shutdown(wait=True)
    processed, failed, batches = counts["processed"], counts["failed"], counts["batches"]
    with rt.transaction() as s:
        remaining = svc.count_pending(s, scope, model=fill_model)
        refreshed = svc.maybe_refresh_term_stats(s, scope) if processed else False
    result: dict[str, Any] = {
        "status": "ok" if batches else "idle", "processed": processed, "failed": failed,
        "remaining_pending": remaining, "provider": provider.name, "model": provider.model, "dim": provider.dim,
        "batches": batches, "recovered_stale": recovered, "reset_failed": reset, "term_stats_refreshed": refreshed,
    }
    if response_model:
        result["response_model"] = response_model
    if remaining > 0 and batches:
        result["follow_up"] = {"job_type": "embeddings_run"}
    log.info("embeddings run", extra={"fields": {k: v for k, v in result.items() if k != "follow_up"}})
    return result


def _write(rt: Any, scope: Scope, collection: VectorCollection, claimed: Sequence[svc.ClaimedChunk],
           batch: EmbeddingBatch, model: tuple[str, str, int], cfg: EmbedJobSettings) -> BatchOutcome:
    """Vectors first (§7.4 step 5), then the rows that still hold the claimed text; a failure releases the claim."""
    try:
        outcome = store_batch(collection, claimed, batch, scope.project_id)
    except Exception as exc:
        _release(scope, claimed, exc, cfg)
        raise
    with rt.transaction() as s:
        outcome.marked_ready = svc.mark_ready(s, scope, chunks=outcome.ready, model=model)
        outcome.marked_failed = svc.mark_failed(s, scope, errors=outcome.failed)
    return outcome


def merge(group: Sequence[tuple[list[svc.ClaimedChunk], EmbeddingBatch]]) -> tuple[list[svc.ClaimedChunk],
                                                                                   EmbeddingBatch]:
    """Several encoded batches as one (claimed rows in order, vectors stacked, error indexes shifted)."""
    claimed: list[svc.ClaimedChunk] = []
    errors: dict[int, str] = {}
    model = None
    for rows, batch in group:
        errors.update({len(claimed) + i: code for i, code in batch.errors.items()})
        claimed += rows
        model = batch.response_model or model
    return claimed, EmbeddingBatch(np.concatenate([b.vectors for _, b in group]), errors, model)


def _abandon(scope: Scope, upcoming: Future[list[svc.ClaimedChunk]] | None, cfg: EmbedJobSettings) -> None:
    """A batch claimed ahead but never encoded (the run stopped on an error): back to ``pending``, its
    attempt taken back."""
    if upcoming is None:
        return
    try:
        claimed = upcoming.result()
    except Exception:  # noqa: BLE001 - the claim itself failed: nothing was claimed
        return
    if claimed:
        _release(scope, claimed, RuntimeError("run stopped before this batch was encoded"), cfg, undo=True)


def _release(scope: Scope, claimed: Sequence[svc.ClaimedChunk], exc: Exception, cfg: EmbedJobSettings,
             undo: bool = False) -> None:
    """The whole batch failed (§7.4 step 6): back to ``pending``, or ``failed`` at the attempt limit.

    Permanent errors (auth, unknown model, dimension mismatch) and an unreachable vector store are
    not the chunks' fault: they take the claim's attempt back, so they never mark chunks ``failed``.
    """
    undo = undo or is_permanent(exc) or isinstance(exc, VectorStoreUnavailable)
    with current().transaction() as s:
        svc.release_claim(s, scope, ids=[c.id for c in claimed], error=f"{type(exc).__name__}: {exc}",
                          max_attempts=cfg.max_attempts, undo_attempt=undo)


def vector_gc(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """Delete vectors of the project's collections whose chunk is not ``ready`` with that model (§8).

    Rows being embedded right now (``processing``) keep their freshly written vectors.
    """
    rt = current()
    deleted = scanned = 0
    collections = rt.vectors.project_collections(scope.project_id)
    for col in collections:
        stale: list[str] = []
        page: list[str] = []
        for chunk_id in col.list_ids(page_size=GC_PAGE):  # delete after listing: offsets stay valid
            page.append(chunk_id)
            if len(page) == GC_PAGE:
                stale += _stale_ids(scope, page, col.model_key)
                scanned, page = scanned + len(page), []
        if page:
            stale += _stale_ids(scope, page, col.model_key)
            scanned += len(page)
        for start in range(0, len(stale), GC_PAGE):
            col.delete(stale[start:start + GC_PAGE])
        deleted += len(stale)
    with rt.transaction() as s:  # deletions by the connectors change the keyword statistics too
        refreshed = svc.maybe_refresh_term_stats(s, scope)
    return {"deleted": deleted, "scanned": scanned, "collections": len(collections), "term_stats_refreshed": refreshed}


def _stale_ids(scope: Scope, ids: list[str], model_key: str) -> list[str]:
    with current().session() as s:
        keep = svc.live_vector_ids(s, scope, ids=ids, model_key=model_key)
    return [i for i in ids if i not in keep]
