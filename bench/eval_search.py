"""Search quality on the demo dataset: recall@5, recall@10 and MRR for dense, lexical and hybrid.

    .venv/bin/python bench/eval_search.py [--provider local] [--out search_eval.json]

Builds a throw-away stack (PostgreSQL database, Chroma server), syncs the demo Chatwoot account
through the real connector against the vendor emulator, embeds every chunk with the provider
(default: the offline ``local`` USE-multilingual model), then runs the labelled queries of
``bench/search_eval_set.py`` through ``shared.search.search`` — the code behind ``POST /search`` —
in each mode, restricted to ``chatwoot_message`` chunks (the labels are the answer key).
Writes ``bench/results/<out>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rag_harness import embed_all, new_project, rag_stack, write_result  # noqa: E402
from bench.search_eval_set import QUERIES, Doc, Query, language, score  # noqa: E402

DEMO_NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # fixed, so every run sees the same dataset
MODES = ("dense", "lexical", "hybrid")


def answer_key(rt: Any, scope: Any, labels: dict[str, frozenset] | None = None) -> dict[str, Doc]:
    """chunk id → (conversation labels, chunk language) for the project's ready Chatwoot chunks.

    Labels come from the synced ``cw_conversations`` rows unless given (chunks loaded without the connector).
    """
    from sqlalchemy import select

    from shared.db.models.chatwoot import CwConversation
    from shared.db.models.rag import RagChunk

    with rt.session() as s:
        if labels is None:
            labels = {c.id: frozenset((c.data or {}).get("labels") or ()) for c in s.scalars(
                select(CwConversation).filter_by(**scope.as_filter()))}
        rows = s.execute(select(RagChunk.id, RagChunk.conversation_global_id, RagChunk.text)
                         .filter_by(embedding_status="ready", source_type="chatwoot_message", **scope.as_filter()))
        return {str(i): Doc(labels.get(conv, frozenset()), language(text)) for i, conv, text in rows}


def evaluate(rt: Any, projects: dict[str, Any], queries: tuple[Query, ...] = QUERIES, top_k: int = 10,
             settings: Any = None, labels: dict[str, frozenset] | None = None) -> dict[str, Any]:
    """Run every query in every mode; returns the metrics per mode and the search latency.

    ``projects``: ``{"all": scope, "en": scope, "ru": scope}``; a cross-lingual query runs in the
    project holding only conversations in its answer language, every other query in ``all``.
    """
    from shared import search as engine
    from shared.embeddings import active_provider

    provider = active_provider(rt.settings.environ)
    settings = settings or engine.SearchSettings.from_env(rt.settings.environ)
    docs: dict[str, Doc] = {}
    sizes = {}
    for name, scope in projects.items():
        key = answer_key(rt, scope, labels)
        docs |= key
        sizes[name] = len(key)
    out: dict[str, Any] = {"corpus_chunks": sizes, "modes": {}}
    for mode in MODES:
        timings: list[float] = []

        def run(q: Query, mode: str = mode, timings: list[float] = timings) -> list[str]:
            scope = projects[q.answer_lang or "all"]
            req = engine.SearchRequest(query=q.text, top_k=top_k, mode=mode, source_types=("chatwoot_message",))
            started = time.perf_counter()
            with rt.session() as s:
                results = engine.search(s, rt.vectors, provider, scope, req, settings, sessions=rt.sessions)
            timings.append(time.perf_counter() - started)
            return [r["id"] for r in results]

        metrics = score(queries, run, docs)
        timings.sort()
        metrics["latency_ms_p50"] = round(timings[len(timings) // 2] * 1000, 2)
        out["modes"][mode] = metrics
    return out


def coverage_sweep(rt: Any, projects: dict[str, Any], values: tuple[float, ...]) -> dict[str, Any]:
    """Hybrid metrics for several ``SEARCH_LEXICAL_MIN_COVERAGE`` values (how sensitive the choice is)."""
    from dataclasses import replace

    from shared import search as engine

    base = engine.SearchSettings.from_env(rt.settings.environ)
    out = {}
    for value in values:
        result = evaluate(rt, projects, settings=replace(base, lexical_min_coverage=value))
        out[str(value)] = result["modes"]["hybrid"]["all"]
    return out


def build(provider: str) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """Enter a stack (the caller exits it) with the three demo projects synced and embedded."""
    from bench.rag_harness import demo_chatwoot_accounts, sync_chatwoot

    stack_cm = rag_stack(provider)
    stack = stack_cm.__enter__()
    projects = {"all": new_project(stack.rt, "Demo"), "ru": new_project(stack.rt, "Demo: Russian conversations"),
                "en": new_project(stack.rt, "Demo: English conversations")}
    started = time.perf_counter()
    synced = sync_chatwoot(stack.rt, {projects["all"]: 7, projects["ru"]: 8, projects["en"]: 9},
                           demo_chatwoot_accounts(DEMO_NOW))
    synced["seconds"] = round(time.perf_counter() - started, 3)
    embedded = {name: embed_all(stack.rt, scope) for name, scope in projects.items()}
    return stack_cm, stack, projects, {"sync": synced, "embed": embedded}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="local", choices=("local", "hashing"))
    parser.add_argument("--out", default="search_eval.json")
    args = parser.parse_args(argv)
    stack_cm, stack, projects, setup = build(args.provider)
    try:
        result = evaluate(stack.rt, projects)
        from shared import search as engine
        from shared.embeddings import active_provider

        provider = active_provider(stack.rt.settings.environ)
        settings = engine.SearchSettings.from_env(stack.rt.settings.environ)
        payload = {
            "dataset": {"name": "demo", "now": DEMO_NOW.isoformat(), "source_types": ["chatwoot_message"],
                        "queries": len(QUERIES), "by_kind": {k: sum(q.kind == k for q in QUERIES)
                                                             for k in ("en", "ru", "cross")},
                        "projects": {"all": "demo Chatwoot account 7 (en + ru): en and ru queries",
                                     "ru": "its Russian conversations only: cross-lingual queries answered in ru",
                                     "en": "its English conversations only: cross-lingual queries answered in en"}},
            "provider": provider.model_key, "rrf_k": settings.rrf_k,
            "lexical_min_coverage": settings.lexical_min_coverage, "top_k": 10, "setup": setup, **result,
            "hybrid_by_lexical_min_coverage": coverage_sweep(stack.rt, projects, (0.0, 0.1, 0.2, 0.25, 0.3, 0.4)),
            "definitions": {"recall@k": "share of queries with at least one relevant chunk in the first k results",
                            "mrr": "mean of 1/rank of the first relevant chunk within the first 10 (0 if none)",
                            "relevant": "chunk of a conversation labelled with the query's topic; cross-lingual "
                                        "queries count only chunks written in the other language"},
        }
    finally:
        stack_cm.__exit__(None, None, None)
    path = write_result(args.out, payload)
    print(f"corpus: {payload['corpus_chunks']} chunks; provider {payload['provider']}")
    sweep = payload["hybrid_by_lexical_min_coverage"]
    print("hybrid MRR by lexical min coverage:", {k: v["mrr"] for k, v in sweep.items()})
    for mode, m in payload["modes"].items():
        a = m["all"]
        print(f"{mode:8s} recall@5={a['recall@5']:.3f} recall@10={a['recall@10']:.3f} mrr={a['mrr']:.3f} "
              f"| en {m['en']['mrr']:.3f} ru {m['ru']['mrr']:.3f} cross {m['cross']['mrr']:.3f} "
              f"| p50 {m['latency_ms_p50']} ms")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
