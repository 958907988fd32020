"""``POST /search`` (connectors-rag §9, §16) over PostgreSQL and a real Chroma server, hashing provider."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import delete, select

from jobs.embeddings import embeddings_run
from shared.db.models.chatwoot import CwMessage
from shared.db.models.rag import RagChunk
from shared.db.service import rag as svc
from shared.runtime import Runtime, install
from shared.scope import Scope
from shared.vectors import VectorStore, VectorStoreSettings
from tests.conftest import Api

LOG = logging.getLogger("test")
DOCS = {  # source_pk -> (source_type, text, day of February 2026, conversation)
    "m-invoice": ("chatwoot_message", "The invoice for March is overdue, please settle the payment this week", 3, 1),
    "m-deploy": ("chatwoot_message", "Deployment to production failed again after the release, rollback needed", 10, 1),
    "m-login": ("chatwoot_message", "Users cannot log in to the mobile app since the last update, login broken", 17, 2),
    "n-renewal": ("attio_note", "Call notes: the client wants to renew the annual contract with a discount", 20, None),
    "i-crash": ("linear_issue", "MOB-12 App crashes on start\n\nThe Android app crashes on launch for some users",
                24, None),
}
TABLES = {"chatwoot_message": "cw_messages", "attio_note": "attio_activities_raw", "linear_issue": "linear_issues_raw"}


def seed(rt: Runtime, scope: Scope, docs: dict[str, tuple[str, str, int, int | None]] = DOCS) -> None:
    """Chunk rows through ``sync_source_chunks``, a message row for the evidence link, then the embeddings job."""
    pid = scope.project_id
    with rt.transaction() as s:
        for pk, (stype, body, day, conv) in docs.items():
            fields: dict[str, Any] = {"source_ts": datetime(2026, 2, day, 12, tzinfo=UTC)}
            source_pk = pk
            if stype == "chatwoot_message":
                source_pk = f"cwmsg:{pid}:12:{day}"
                fields |= {"conversation_global_id": f"cw:{pid}:12:{conv}", "message_global_id": source_pk}
                s.add(CwMessage(id=source_pk, project_id=pid, account_scope_id=scope.account_scope_id, account_id=12,
                                message_id=day, conversation_id=3400 + conv, conversation_global_id=fields[
                                    "conversation_global_id"], contact_global_id=f"cwc:{pid}:12:77",
                                content=body, data={}, created_at=datetime(2026, 2, day, 9, 12, tzinfo=UTC)))
            svc.sync_source_chunks(s, scope, source_type=stype, source_table=TABLES[stype], source_pk=source_pk,
                                   text=body, source_fields=fields)
    embeddings_run(scope, {}, LOG)


@pytest.fixture()
def project(api: Api, clean: Runtime, vectors: VectorStore) -> Scope:
    install(clean)
    p = api.create_project("Search")
    scope = Scope.of(p["id"], p["account_scope_id"])
    seed(clean, scope)
    return scope


def search(api: Api, **body: Any) -> Any:
    return api.post("/search", body)


def pks(resp: Any) -> list[str]:
    return [r["source_pk"] for r in resp.get_json()["results"]]


def test_hybrid_search_returns_scored_hits_with_evidence(api: Api, project: Scope) -> None:
    resp = search(api, query="overdue invoice payment", topK=3)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["ok"] is True and body["mode"] == "hybrid" and body["topK"] == 3
    assert body["project_id"] == str(project.project_id) and body["account_scope_id"] == str(project.account_scope_id)
    assert (body["embedding_provider"], body["embedding_model"], body["embedding_dim"]) == (
        "hashing", "char-ngram-hash", 384)
    assert body["filters"] == {"source_types": ["chatwoot_message", "attio_note", "linear_issue"], "date_from": None,
                               "date_to": None, "conversation_global_id": None, "min_score": None}
    top = body["results"][0]
    pid = project.project_id
    assert top["source_pk"] == f"cwmsg:{pid}:12:3" and top["rank"] == 1
    assert top["dense_rank"] == 1 and top["lexical_rank"] == 1
    assert top["score"] == round(2 / 61, 6) and abs(top["dense_score"] + top["distance"] - 1) < 1e-6
    assert top["contact_global_id"] == f"cwc:{pid}:12:77" and top["chunk_index"] == 0
    assert top["snippet"] == DOCS["m-invoice"][1] and top["text"] == DOCS["m-invoice"][1]
    assert top["source_created_at"] == "2026-02-03T09:12:00.000Z" and top["created_at"].endswith("Z")
    assert top["evidence_refs"] == [
        {"source": "rag_chunks", "ref": top["id"], "snippet": top["snippet"], "meta": {"chunk_index": 0}},
        {"source": "cw_messages", "ref": top["source_pk"], "snippet": None,
         "meta": {"conversation_global_id": f"cw:{pid}:12:1", "url": None}},
    ]
    assert [r["rank"] for r in body["results"]] == [1, 2, 3]
    assert api.post("/v1/search", {"query": "invoice"}).status_code == 200


def test_modes_use_one_list_each_with_comparable_scores(api: Api, project: Scope) -> None:
    dense = search(api, query="invoice", mode="dense").get_json()["results"]
    assert all(r["lexical_rank"] is None and r["dense_rank"] == r["rank"] for r in dense)
    assert dense[0]["score"] == round(1 / 61, 6)
    lexical = search(api, query="invoice", mode=" LEXICAL ").get_json()
    assert lexical["mode"] == "lexical" and len(lexical["results"]) == 1
    hit = lexical["results"][0]
    assert hit["dense_rank"] is None and hit["dense_score"] is None and hit["distance"] is None
    assert hit["lexical_rank"] == 1 and hit["score"] == round(1 / 61, 6)


def test_russian_query_matches_stemmed_words(api: Api, project: Scope, clean: Runtime) -> None:
    seed(clean, project, {"n-ru": ("attio_note", "Клиент просит перенести дедлайн релиза на следующую неделю", 25,
                                   None)})
    resp = search(api, query="дедлайны релизов", mode="lexical")
    assert pks(resp) == ["n-ru"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 400, "query_required"),
    ({"query": "   \n\t"}, 400, "query_required"),
    ({"query": 42}, 400, "query_required"),
    ({"query": ["invoice"]}, 400, "query_required"),
    ({"query": None}, 400, "query_required"),
    ({"query": "x", "source_types": ["email"]}, 400, "invalid_source_types"),
    ({"query": "x", "source_types": "chatwoot_message"}, 400, "invalid_source_types"),
    ({"query": "x", "source_types": [1]}, 400, "invalid_source_types"),
    ({"query": "x", "mode": "fuzzy"}, 400, "invalid_mode"),
    ({"query": "x", "mode": 1}, 400, "invalid_mode"),
    ({"query": "x", "date_from": "last tuesday"}, 400, "invalid_date"),
    ({"query": "x", "date_to": "2026-02-30"}, 400, "invalid_date"),
    ({"query": "x", "date_from": 1700000000}, 400, "invalid_date"),
    ({"query": "x", "date_from": "2026-03-01", "date_to": "2026-02-01"}, 400, "invalid_date_range"),
    ({"query": "x", "min_score": "high"}, 400, "invalid_body"),
    ({"query": "x", "conversation_global_id": 5}, 400, "invalid_body"),
])
def test_bad_input_is_a_4xx_in_the_envelope(api: Api, body: dict, status: int, code: str) -> None:
    api.create_project("Bad input")  # validation comes before any search work: no chunks needed
    resp = search(api, **body)
    assert resp.status_code == status
    payload = resp.get_json()
    assert payload["ok"] is False and payload["error"] == code and payload["message"] and payload["request_id"]


def test_malformed_and_non_object_bodies(api: Api) -> None:
    api.create_project("Bad bodies")
    resp = api.client.post("/search", data="{nope", content_type="application/json",
                           headers={"x-csrf-token": api.csrf})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_json"
    resp = api.client.post("/search", json=["invoice"], headers={"x-csrf-token": api.csrf})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_body"
    assert api.client.post("/search", json={"query": "x"}).status_code == 403  # CSRF


def test_long_query_is_cut_and_top_k_clamped(api: Api, project: Scope) -> None:
    long = "  " + "invoice " * 600
    body = search(api, query=long).get_json()
    assert len(body["query"]) == 4000 and body["query"] == long.strip()[:4000]
    assert search(api, query="invoice", topK=500).get_json()["topK"] == 50
    assert search(api, query="invoice", topK=0).get_json()["topK"] == 1
    assert len(search(api, query="invoice", topK=-3).get_json()["results"]) == 1
    assert search(api, query="invoice", topK="7").get_json()["topK"] == 10
    assert search(api, query="invoice", topK=2.5).get_json()["topK"] == 10
    assert search(api, query="invoice", topK=True).get_json()["topK"] == 10
    assert search(api, query="invoice", top_k=3).get_json()["topK"] == 3
    assert search(api, query="invoice", topK=4, top_k=3).get_json()["topK"] == 4


def test_filters_narrow_both_lists(api: Api, project: Scope) -> None:
    pid = project.project_id
    only_issues = search(api, query="app crashes", source_types=["linear_issue"])
    assert pks(only_issues) == ["i-crash"]
    assert only_issues.get_json()["results"][0]["evidence_refs"][1] == {
        "source": "linear_issues_raw", "ref": "i-crash", "snippet": None, "meta": {"url": None}}
    assert only_issues.get_json()["filters"]["source_types"] == ["linear_issue"]
    window = search(api, query="app", date_from="2026-02-10", date_to="2026-02-17")
    assert set(pks(window)) <= {f"cwmsg:{pid}:12:10", f"cwmsg:{pid}:12:17"} and pks(window)
    assert window.get_json()["filters"]["date_to"] == "2026-02-17T23:59:59.999Z"
    late = search(api, query="app", date_from="2026-02-24T12:00:00Z")
    assert pks(late) == ["i-crash"]
    assert search(api, query="app", date_to="2026-02-01T00:00:00+03:00").get_json()["results"] == []
    conv = search(api, query="app", conversation_global_id=f"cw:{pid}:12:2")
    assert pks(conv) == [f"cwmsg:{pid}:12:17"]


def test_min_score_clamped_and_applied(api: Api, project: Scope) -> None:
    everything = search(api, query="invoice", topK=50).get_json()["results"]
    assert len(everything) == len(DOCS)
    assert search(api, query="invoice", min_score=5).get_json()["filters"]["min_score"] == 1.0
    assert search(api, query="invoice", min_score=-7).get_json()["filters"]["min_score"] == -1.0
    cut = sorted(r["dense_score"] for r in everything)[2]
    kept = search(api, query="invoice", topK=50, min_score=cut).get_json()["results"]
    assert kept and all(r["dense_score"] >= cut for r in kept) and len(kept) < len(everything)


def test_min_score_never_drops_lexical_only_hits(project: Scope, clean: Runtime) -> None:
    from shared import search as engine
    from shared.embeddings.hashing import HashingProvider
    from shared.vectors import VectorHit

    with clean.session() as s:
        ids = {r.source_type + ":" + r.text[:6]: str(r.id) for r in s.scalars(
            select(RagChunk).filter_by(project_id=project.project_id))}
    deploy, login = ids["chatwoot_message:Deploy"], ids["chatwoot_message:Users "]

    class Store:  # dense candidates that exclude the only lexical hit
        def collection(self, *_: Any) -> Store:
            return self

        def query(self, *_: Any) -> list[VectorHit]:
            return [VectorHit(login, 0.5, {}), VectorHit(deploy, 0.9, {})]

    req = engine.SearchRequest(query="invoice", top_k=10, min_score=0.3)
    with clean.session() as s:
        results = engine.search(s, Store(), HashingProvider(), project, req, engine.SearchSettings())  # type: ignore[arg-type]
    got = [(r["id"], r["dense_rank"], r["lexical_rank"]) for r in results]
    invoice = ids["chatwoot_message:The in"]
    assert got == [(login, 1, None), (invoice, None, 1)]  # deploy (dense 0.1) is dropped; ties by dense score


def test_percent_underscore_backslash_match_literally(api: Api, project: Scope, clean: Runtime) -> None:
    seed(clean, project, {"n-lit": ("attio_note", "Discount agreed at 15% for plan_b, see path C:\\deals", 26, None)})
    for q in ("15%", "plan_b", "C:\\deals", "%", "_", "\\"):
        resp = search(api, query=q, mode="lexical")
        assert resp.status_code == 200
    assert pks(search(api, query="plan_b", mode="lexical")) == ["n-lit"]
    assert search(api, query="%", mode="lexical").get_json()["results"] == []


def test_deleted_chunks_are_never_returned(api: Api, project: Scope, clean: Runtime) -> None:
    with clean.transaction() as s:
        s.execute(delete(RagChunk).where(RagChunk.source_pk == "i-crash"))  # its vector stays in Chroma
    assert "i-crash" not in pks(search(api, query="app crashes on start", topK=50))


def test_another_projects_chunks_never_appear(api: Api, project: Scope, clean: Runtime) -> None:
    other = api.create_project("Other", scope_key="other-account")  # now the active project
    other_scope = Scope.of(other["id"], other["account_scope_id"])
    seed(clean, other_scope, {"n-secret": ("attio_note", "The invoice for March is overdue, secret other", 3, None)})
    with clean.session() as s:
        def ids_of(scope: Scope) -> set[str]:
            return {str(i) for i in s.scalars(select(RagChunk.id).filter_by(project_id=scope.project_id))}

        own_ids, other_ids = ids_of(project), ids_of(other_scope)
    assert pks(search(api, query="invoice overdue", topK=50)) == ["n-secret"]
    api.select(str(project.project_id))
    for mode in ("hybrid", "dense", "lexical"):
        got = {r["id"] for r in search(api, query="invoice overdue secret other", topK=50, mode=mode)
               .get_json()["results"]}
        assert got and got <= own_ids and not got & other_ids
    foreign = search(api, query="invoice", conversation_global_id=f"cw:{other_scope.project_id}:12:3")
    assert foreign.get_json()["results"] == []


def test_no_active_project_is_409(client: Any) -> None:
    from tests.conftest import Api as A

    a = A(client)
    a.login()
    resp = a.post("/search", {"query": "x"})
    assert resp.status_code == 409 and resp.get_json()["error"] == "active_project_required"


def test_unavailable_provider_is_503(api: Api, project: Scope, clean: Runtime) -> None:
    from web.app import create_app

    env = {**clean.settings.environ, "EMBEDDINGS_PROVIDER": "openai"}  # default base URL, no key
    broken = Runtime(replace(clean.settings, environ=MappingProxyType(env)))
    client = create_app(runtime=broken).test_client()
    for name in ("sid", "csrf_token"):
        client.set_cookie(name, api.client.get_cookie(name).value)
    resp = client.post("/search", json={"query": "invoice"}, headers={"x-csrf-token": api.csrf})
    assert resp.status_code == 503 and resp.get_json()["error"] == "embeddings_unavailable"
    broken.close()
    install(clean)


def test_chroma_down_is_503(api: Api, project: Scope, clean: Runtime) -> None:
    clean.__dict__["vectors"] = VectorStore(VectorStoreSettings(host="127.0.0.1", port=1))
    resp = search(api, query="invoice")
    assert resp.status_code == 503 and resp.get_json()["error"] == "vector_store_unavailable"
    assert "127.0.0.1:1" in resp.get_json()["message"]


def test_openai_query_embedding_errors_are_502_and_504(api: Api, project: Scope, clean: Runtime) -> None:
    from bench.rag_harness import with_env
    from tests.emulators.server import EmulatorServer
    from web.app import create_app

    with EmulatorServer({"openai": {"key": "sk-test", "dim": 256}}) as emu:
        rt = with_env(clean, {"EMBEDDINGS_PROVIDER": "openai", "OPENAI_BASE_URL": emu.openai_url,
                              "OPENAI_API_KEY": "sk-test", "EMBEDDING_DIM": "256", "SEARCH_TIMEOUT_SECONDS": "1"})
        client = create_app(runtime=rt).test_client()
        for name in ("sid", "csrf_token"):
            client.set_cookie(name, api.client.get_cookie(name).value)

        def post() -> Any:
            return client.post("/search", json={"query": "overdue invoice"}, headers={"x-csrf-token": api.csrf})

        fine = post()
        body = fine.get_json()
        assert fine.status_code == 200 and body["embedding_provider"] == "openai" and body["embedding_dim"] == 256
        assert [r["dense_rank"] for r in body["results"]] == [None]  # no openai vectors yet: lexical only
        emu.fault("openai", status=500)
        resp = post()
        assert resp.status_code == 502 and resp.get_json()["error"] == "embedding_provider_error"
        emu.fault("openai", delay_ms=2500)
        resp = post()
        assert resp.status_code == 504 and resp.get_json()["error"] == "search_timeout"
        assert len([r for r in emu.requests("openai") if r["path"].endswith("/embeddings")]) == 3  # no retries
    install(clean)
