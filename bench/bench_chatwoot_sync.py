"""Benchmark: Chatwoot sync end to end vs a bare fetch-and-insert loop (issue 4: ratio ≥ 0.5).

The emulator (``tests.emulators``) serves a generated account in this process; each measured run is a
separate worker process (so its peak RSS is its own), on a fresh migrated PostgreSQL database:

- **sync**: ``jobs.connectors.sync.run_sync("chatwoot", …)``, the real flow: state row, watermark,
  inboxes, the conversation list (``status=all``), messages through ``before`` cursors, per-conversation
  transactions with idempotent upserts (``ON CONFLICT … WHERE changed … RETURNING``), contacts,
  attachments and RAG chunk rows, the storage check and the watermark;
- **bare**: the same pages fetched with the same HTTP client (``shared.http.VendorHttp``, same rate
  limiter), the same rows (mapped by the same pure functions, chunk rows split by ``shared.chunking``)
  written with plain bulk ``INSERT``s, one transaction per conversation list page.

Both runs are in the same invocation on the same machine; the ratio is sync messages/s over bare
messages/s. Two sizes show that the worker's peak RSS is flat in the number of messages (pages are
streamed; nothing holds the whole set).

Usage: ``.venv/bin/python bench/bench_chatwoot_sync.py [--conversations 1000] [--sizes 100,50] [--repeat 2]``
(messages per conversation; the largest size is the headline figure and must be ≥ 100k messages). Each
mode runs ``repeat`` times, alternating, and its best rate counts.
Results: ``bench/results/chatwoot_sync.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import isolated_env, print_summary, write_results  # noqa: E402

TARGET = 0.5
TOKEN = "bench-chatwoot-token"
ACCOUNT_ID = 1
SYNC_ENV = {
    "CHATWOOT_API_TOKEN": TOKEN, "CHATWOOT_LOOKBACK_DAYS": "365", "CHATWOOT_CONVERSATIONS_LIMIT": "1000",
    "CHATWOOT_PAGES_LIMIT": "200", "CHATWOOT_MESSAGES_LIMIT": "3000", "CHATWOOT_RATE_LIMIT_PER_MINUTE": "10000000",
    "CHATWOOT_RATE_LIMIT_BURST": "100000", "EMBEDDINGS_PROVIDER": "hashing",
}


# --- the two measured workers (run in child processes) -------------------------------------------------
def _project() -> Any:
    from shared.db.service.connectors import create_binding
    from shared.db.service.projects import create_project, resolve_account_scope, scope_of
    from shared.runtime import current

    rt = current()
    with rt.transaction() as s:
        scope = scope_of(create_project(session=s, name=f"bench-{uuid.uuid4().hex[:6]}",
                                        account_scope=resolve_account_scope(session=s, scope_key=None,
                                                                            scope_name=None)))
        create_binding(session=s, scope=scope, connector="chatwoot", external_id=str(ACCOUNT_ID))
    return scope


def child_sync() -> dict[str, Any]:
    import importlib
    import logging

    from jobs.connectors import chatwoot
    from jobs.connectors.sync import run_sync

    for module in ("jobs.kag.handlers",):  # a warm worker has its job modules imported already
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    scope = _project()
    timings: dict[str, float] = {}
    routine = chatwoot.sync_chatwoot

    def timed(*args: Any) -> dict[str, Any]:
        began = time.perf_counter()
        try:
            return routine(*args)
        finally:
            timings["connector"] = time.perf_counter() - began

    chatwoot.sync_chatwoot = timed
    began = time.perf_counter()
    out = run_sync("chatwoot", scope, {}, logging.getLogger("bench"))
    seconds = time.perf_counter() - began
    result = out["result"]
    return {"seconds": seconds, "connector_seconds": timings["connector"], "messages": result["processed_messages"],
            "requests": result["requests"], "conversations": result["processed_conversations"],
            "chunks": result["inserted_chunks"], "event_log": out.get("event_log")}


def child_bare() -> dict[str, Any]:
    """Same pages, same client, same rows; plain INSERTs without conflict handling or bookkeeping."""
    from sqlalchemy import insert
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    from jobs.connectors import chatwoot as cw
    from jobs.connectors.common import RunStats, dedupe_latest
    from shared.chunking import ChunkingSettings, content_tokens, split_with, text_hash
    from shared.db.models.chatwoot import CwContact, CwConversation, CwMessage
    from shared.db.models.rag import RagChunk
    from shared.http import HttpSettings, vendor_limiter
    from shared.lexical import normalize_for_index
    from shared.runtime import current

    rt = current()
    scope = _project()
    pid = str(scope.project_id)
    settings = cw.ChatwootSettings.from_env(rt.settings.environ)
    chunking = ChunkingSettings.from_env(rt.settings.environ)
    scoped = {"project_id": scope.project_id, "account_scope_id": scope.account_scope_id}
    began = time.perf_counter()
    messages = requests = 0
    with cw.ChatwootStream.client(settings, HttpSettings.from_settings(rt.settings),
                                  vendor_limiter("chatwoot", rt)) as http:
        stats = RunStats()
        listing, pages = cw.Conversations(http, ACCOUNT_ID, stats), cw.Messages(http, ACCOUNT_ID, stats)
        cw.Inboxes(http, ACCOUNT_ID, stats).fetch()
        for number in range(1, settings.pages_limit + 1):
            items = listing.page(number)
            if not items:
                break
            convs, contacts, msgs, chunks = [], [], [], []
            for item in items:
                conv, contact = cw.to_conversation_row(item, pid=pid, acc=ACCOUNT_ID)
                cid = conv["conversation_id"]
                fetched = list(pages.latest(cid))
                page = fetched
                while len(page) >= cw.OLDER_PAGE:
                    page = pages.before(cid, min(m["id"] for m in fetched))
                    fetched += page
                convs.append(conv)
                contacts += [c for c in [contact] if c]
                for message in fetched:
                    mapped = cw.to_message_rows(message, pid=pid, acc=ACCOUNT_ID, conversation=conv,
                                                max_chars=settings.max_content_chars)
                    msgs.append(mapped.row)
                    if mapped.contact:
                        contacts.append(mapped.contact)
                    text = cw.chunk_text(mapped.row)
                    for i, piece in enumerate(split_with(text, chunking).chunks if text else []):
                        chunks.append({"id": uuid.uuid4(), **scoped, **cw.chunk_fields(mapped.row),
                                       "source_type": cw.SOURCE_TYPE, "source_table": cw.SOURCE_TABLE,
                                       "source_pk": mapped.row["id"], "chunk_index": i, "text": piece,
                                       "text_hash": text_hash(piece), "content_tokens": content_tokens(piece),
                                       "search_text": normalize_for_index(piece), "embedding_status": "pending",
                                       "embedding_attempts": 0})
            with rt.transaction() as s:
                s.execute(insert(CwConversation), [{**c, **scoped} for c in convs])
                s.execute(pg_insert(CwContact).on_conflict_do_nothing(), [{**c, **scoped}
                                                                          for c in dedupe_latest(contacts)])
                s.execute(insert(CwMessage), [{**m, **scoped} for m in msgs])
                if chunks:
                    s.execute(insert(RagChunk), chunks)
            messages += len(msgs)
            if len(items) < 25:
                break
        requests = http.requests_sent
    return {"seconds": time.perf_counter() - began, "messages": messages, "requests": requests}


def child_main(mode: str) -> None:
    out = child_sync() if mode == "sync" else child_bare()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print("BENCH_RESULT " + json.dumps(out), flush=True)


# --- the driver ---------------------------------------------------------------------------------------------
def run_child(mode: str, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode], cwd=ROOT,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=3600)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line.removeprefix("BENCH_RESULT "))
    raise RuntimeError(f"{mode} child failed ({proc.returncode}): {proc.stderr[-3000:]}")


def measure(conversations: int, per_conversation: int, repeat: int) -> dict[str, Any]:
    """Each mode ``repeat`` times, alternating, each run on a fresh database; the best rate of each mode counts
    (noise on a shared machine only ever slows a run down)."""
    from tests.emulators import EmulatorServer

    spec = {"account_id": ACCOUNT_ID, "conversations": conversations,
            "messages_per_conversation": per_conversation, "now": int(time.time()), "span_days": 300}
    out: dict[str, Any] = {"conversations": conversations, "messages_per_conversation": per_conversation,
                           "messages": conversations * per_conversation, "repeat": repeat}
    samples: dict[str, list[dict[str, Any]]] = {"bare": [], "sync": []}
    with EmulatorServer({"chatwoot": {"token": TOKEN, "generate": spec}}) as emu:
        for _ in range(repeat):
            for mode in ("bare", "sync"):
                with isolated_env(CHATWOOT_BASE_URL=emu.chatwoot_url, **SYNC_ENV) as env:
                    sample = run_child(mode, env)
                sample["messages_per_s"] = round(sample["messages"] / sample["seconds"], 1)
                if mode == "sync":
                    sample["connector_messages_per_s"] = round(sample["messages"] / sample["connector_seconds"], 1)
                samples[mode].append(sample)
    for mode, runs in samples.items():
        out[mode] = max(runs, key=lambda r: r["messages_per_s"])
        out[mode]["all_messages_per_s"] = [r["messages_per_s"] for r in runs]
        out[mode]["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    out["ratio"] = round(out["sync"]["messages_per_s"] / out["bare"]["messages_per_s"], 3)
    out["connector_ratio"] = round(out["sync"]["connector_messages_per_s"] / out["bare"]["messages_per_s"], 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("sync", "bare"))
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--sizes", default="100,50", help="messages per conversation, comma separated")
    parser.add_argument("--repeat", type=int, default=2, help="runs per mode and size (the best counts)")
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return 0
    runs = [measure(args.conversations, int(n), max(1, args.repeat)) for n in args.sizes.split(",")]
    headline = max(runs, key=lambda r: r["messages"])
    write_results("chatwoot_sync", {
        "target_ratio": TARGET, "ratio": headline["ratio"], "messages": headline["messages"],
        "sync_messages_per_s": headline["sync"]["messages_per_s"],
        "connector_ratio": headline["connector_ratio"],
        "connector_messages_per_s": headline["sync"]["connector_messages_per_s"],
        "bare_messages_per_s": headline["bare"]["messages_per_s"],
        "peak_rss_mb": {str(r["messages"]): r["sync"]["peak_rss_mb"] for r in runs},
        "runs": runs,
    })
    lines = [f"{r['messages']:>7} messages: sync {r['sync']['messages_per_s']:>8} msg/s (connector alone "
             f"{r['sync']['connector_messages_per_s']}), bare {r['bare']['messages_per_s']:>8} msg/s, ratio "
             f"{r['ratio']:.2f} (connector alone {r['connector_ratio']:.2f}); peak RSS sync "
             f"{r['sync']['peak_rss_mb']} MB, bare {r['bare']['peak_rss_mb']} MB" for r in runs]
    print_summary("chatwoot_sync", headline["ratio"], TARGET, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
