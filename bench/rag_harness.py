"""A throw-away RAG stack for the search evaluation and the RAG benchmarks.

``rag_stack()`` gives a private PostgreSQL database (migrated), a Redis db number, a real Chroma
server on a free port and an installed ``Runtime`` whose environment selects the embeddings
provider; everything is removed on exit. ``demo_project()`` loads the demo dataset into a project,
through the real Chatwoot connector against the vendor emulator over HTTP.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.config import Settings  # noqa: E402
from shared.runtime import Runtime, install  # noqa: E402
from shared.scope import Scope  # noqa: E402
from tests.support import (  # noqa: E402
    ChromaProcess,
    claim_redis_db,
    create_pg_database,
    drop_pg_database,
    release_redis_db,
)

RESULTS = ROOT / "bench" / "results"
LOG = logging.getLogger("bench")


@dataclass
class Stack:
    rt: Runtime
    env: dict[str, str]
    chroma: ChromaProcess


def base_env(database_url: str, redis_url: str, chroma: ChromaProcess, provider: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "AUTH_CREDENTIALS": "bench:bench-password-123",
        "APP_ENV": "test", "LOG_LEVEL": "warning", "SESSION_SECRET": "bench-secret-" + "x" * 32,
        "EMBEDDINGS_PROVIDER": provider, "CHROMA_HOST": chroma.host, "CHROMA_PORT": str(chroma.port),
        "RQ_DASHBOARD_ENABLED": "false",
    }


def migrate(rt: Runtime, upto: str | None) -> None:
    from shared.db.migrate import upgrade

    if not upto:
        upgrade(rt.engine)
        return
    from alembic import command

    from shared.db.migrate import alembic_config

    cfg = alembic_config()
    with rt.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, upto)
        conn.commit()


@contextmanager
def rag_stack(provider: str = "local", *, extra_env: dict[str, str] | None = None,
              upto: str | None = None) -> Iterator[Stack]:
    """``upto``: migrate to that Alembic revision instead of head (``KEEL_BENCH_UPTO``)."""
    upto = upto or os.environ.get("KEEL_BENCH_UPTO") or None
    db_name, db_url = create_pg_database()
    owner = f"bench:{os.getpid()}:{uuid.uuid4()}"
    redis_number = claim_redis_db(owner)
    redis_base = os.environ.get("KEEL_TEST_REDIS", "redis://127.0.0.1:6379")
    tmp = tempfile.TemporaryDirectory(prefix="keel-bench-")
    chroma = ChromaProcess(Path(tmp.name) / "chroma").start()
    rt = None
    try:
        env = base_env(db_url, f"{redis_base}/{redis_number}", chroma, provider) | (extra_env or {})
        rt = install(Runtime(Settings.from_env(env)))
        migrate(rt, upto)
        yield Stack(rt, env, chroma)
    finally:
        if rt is not None:
            rt.close()
        chroma.stop()
        tmp.cleanup()
        release_redis_db(redis_number, owner)
        drop_pg_database(db_name)


def new_project(rt: Runtime, name: str) -> Scope:
    from shared.db.service.projects import create_project, resolve_account_scope, scope_of

    with rt.transaction() as s:
        account = resolve_account_scope(session=s, scope_key=None, scope_name=None)
        return scope_of(create_project(session=s, name=name, account_scope=account))


def with_env(rt: Runtime, extra: dict[str, str]) -> Runtime:
    """The same runtime with more environment (connector settings); engine and Redis are shared."""
    from dataclasses import replace
    from types import MappingProxyType

    settings = replace(rt.settings, environ=MappingProxyType({**rt.settings.environ, **extra}))
    clone = Runtime(settings)
    for name in ("engine", "sessions", "redis", "vectors"):
        if name in rt.__dict__:
            clone.__dict__[name] = rt.__dict__[name]
    return clone


def split_by_language(account: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The demo account's conversations split by the language most of their messages are written in."""
    from bench.search_eval_set import language

    out: dict[str, dict[str, Any]] = {}
    for conv in account["conversations"]:
        msgs = account["messages"].get(str(conv["id"]), [])
        votes = [language(m.get("content") or "") for m in msgs if m.get("content") and m.get("message_type") != 2]
        lang = max(("en", "ru"), key=votes.count) if votes else "en"
        part = out.setdefault(lang, {"inboxes": account["inboxes"], "conversations": [], "messages": {}})
        part["conversations"].append(conv)
        part["messages"][str(conv["id"])] = msgs
    return out


def demo_chatwoot_accounts(now: datetime) -> dict[str, Any]:
    """The demo Chatwoot fixture: account 7 as built, plus 8 (its Russian conversations) and 9 (English)."""
    from tests.emulators.demo_data import DEMO_CHATWOOT_ACCOUNT_ID, build_demo_fixtures

    chatwoot = build_demo_fixtures(now)["chatwoot"]
    full = chatwoot["accounts"][str(DEMO_CHATWOOT_ACCOUNT_ID)]
    parts = split_by_language(full)
    chatwoot["accounts"]["8"], chatwoot["accounts"]["9"] = parts["ru"], parts["en"]
    return chatwoot


def sync_chatwoot(rt: Runtime, bindings: dict[Scope, str], chatwoot: dict[str, Any]) -> dict[str, Any]:
    """Serve ``chatwoot`` from the vendor emulator and sync each project from its bound account with the
    real connector (``jobs.connectors.sync.run_sync``), repeating capped runs."""
    from jobs.connectors.sync import run_sync
    from shared.db.service import connectors as connectors_svc
    from tests.emulators.server import EmulatorServer

    totals: dict[str, Any] = {"runs": 0, "processed_messages": 0, "inserted_chunks": 0}
    with EmulatorServer({"chatwoot": chatwoot}) as emu:
        env = {k: v for k, v in emu.env().items() if k in ("CHATWOOT_BASE_URL", "CHATWOOT_API_TOKEN")}
        env |= {"CHATWOOT_LOOKBACK_DAYS": "365", "CHATWOOT_CONVERSATIONS_LIMIT": "1000",
                "CHATWOOT_PAGES_LIMIT": "200"}
        connector_rt = install(with_env(rt, env))
        try:
            for scope, account_id in bindings.items():
                with connector_rt.transaction() as s:
                    connectors_svc.create_binding(session=s, scope=scope, connector="chatwoot",
                                                  external_id=str(account_id))
                for _ in range(20):  # a capped run continues on the next one
                    result = run_sync("chatwoot", scope, {}, LOG).get("result") or {}
                    totals["runs"] += 1
                    totals["processed_messages"] += int(result.get("processed_messages") or 0)
                    totals["inserted_chunks"] += int(result.get("inserted_chunks") or 0)
                    if not result.get("truncated"):
                        break
        finally:
            install(rt)
    return totals


def load_chatwoot_chunks(rt: Runtime, scope: Scope, account: dict[str, Any], account_id: int) -> dict[str, frozenset]:
    """Chunk the account's messages straight from the fixture (no HTTP), by the §3.6 rules, through
    ``sync_many_source_chunks``; returns conversation global id → its labels (the answer key)."""
    from shared.db.service.chunk_batches import ChunkSource, sync_many_source_chunks

    pid = str(scope.project_id)
    labels, sources = {}, []
    for conv in account["conversations"]:
        conv_gid = f"cw:{pid}:{account_id}:{conv['id']}"
        labels[conv_gid] = frozenset(conv.get("labels") or ())
        for m in account["messages"].get(str(conv["id"]), []):
            chunked = (not m.get("private") and m.get("message_type") in (0, 1)
                       and not (m.get("content_attributes") or {}).get("deleted"))
            msg_gid = f"cwmsg:{pid}:{account_id}:{m['id']}"
            sources.append(ChunkSource("chatwoot_message", "cw_messages", msg_gid,
                                       (m.get("content") or None) if chunked else None,
                                       {"conversation_global_id": conv_gid, "message_global_id": msg_gid,
                                        "source_ts": datetime.fromtimestamp(m["created_at"], UTC)}))
    with rt.transaction() as s:
        sync_many_source_chunks(s, scope, sources)
    return labels


def embed_all(rt: Runtime, scope: Scope) -> dict[str, Any]:
    """Run ``embeddings_run`` (the handler) until nothing is pending."""
    from jobs.embeddings import embeddings_run

    started = time.perf_counter()
    processed = runs = 0
    while True:
        result = embeddings_run(scope, {}, LOG)
        runs += 1
        processed += result["processed"]
        if not result["remaining_pending"] or result["status"] == "idle":
            break
    return {"runs": runs, "processed": processed, "seconds": round(time.perf_counter() - started, 3)}


def machine() -> dict[str, Any]:
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()}


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    payload = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
