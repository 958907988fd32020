"""Part B contract: bad input is a 4xx with no partial write, scope isolation, audit and evidence search."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from shared.db.models.growth import (
    ContactChannelPolicy,
    ContinuityAction,
    IdentityLinkSuggestion,
    OutboundMessage,
    UpsellOpportunity,
)
from shared.db.models.platform import AuditEvent
from shared.jobs import enqueue
from tests.conftest import Api
from tests.growth.conftest import add_rows, audits, message_row, scope_of

RANDOM = str(uuid.uuid4())
DRAFT = {"channel": "email", "recipient_ref": "cwc:1:1", "idempotency_key": "k", "payload": {"body_text": "x"}}

BAD_BODIES = [
    ("/outbound/draft", {}, "invalid_channel"),
    ("/outbound/draft", {**DRAFT, "channel": "sms"}, "invalid_channel"),
    ("/outbound/draft", {**DRAFT, "channel": 5}, "invalid_channel"),
    ("/outbound/draft", {**DRAFT, "recipient_ref": "  "}, "invalid_recipient_ref"),
    ("/outbound/draft", {**DRAFT, "idempotency_key": None}, "idempotency_key_required"),
    ("/outbound/draft", {**DRAFT, "idempotency_key": "k" * 201}, "idempotency_key_required"),
    ("/outbound/draft", {**DRAFT, "evidence_refs": "cwmsg:1"}, "invalid_evidence_refs"),
    ("/outbound/draft", {**DRAFT, "evidence_refs": {"ref": "x"}}, "invalid_evidence_refs"),
    (f"/outbound/{RANDOM}/approve", {"evidence_refs": 7}, "invalid_evidence_refs"),
    ("/outbound/opt-out", {}, "invalid_opt_out_payload"),
    ("/outbound/opt-out", {"contact_global_id": "cwc:1", "channel": "fax"}, "invalid_channel"),
    ("/outbound/opt-out", {"contact_global_id": "cwc:1", "channel": "email", "opted_out": "maybe"},
     "invalid_opt_out_payload"),
    ("/outbound/opt-out", {"contact_global_id": "cwc:1", "channel": "email", "evidence_refs": "x"},
     "invalid_evidence_refs"),
    (f"/upsell/{RANDOM}/status", {}, "invalid_upsell_status"),
    (f"/upsell/{RANDOM}/status", {"status": "won"}, "invalid_upsell_status"),
    ("/continuity/apply", {}, "invalid_action_ids"),
    ("/continuity/apply", {"action_ids": RANDOM}, "invalid_action_ids"),
    ("/continuity/apply", {"action_ids": [RANDOM, "nope"]}, "invalid_action_ids"),
    ("/continuity/apply", {"action_ids": [1]}, "invalid_action_ids"),
    ("/identity/suggestions/apply", {"suggestion_ids": "a,b"}, "invalid_suggestion_ids"),
    ("/identity/suggestions/apply", {"suggestion_ids": {"ids": [RANDOM]}}, "invalid_suggestion_ids"),
]


def _row_counts(rt: Any) -> dict[str, int]:
    with rt.sessions() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in (
            OutboundMessage, ContactChannelPolicy, UpsellOpportunity, ContinuityAction, IdentityLinkSuggestion,
            AuditEvent)}


def test_bad_bodies_are_400s_without_any_write(api: Api, runtime) -> None:
    api.create_project("Project P")
    before = _row_counts(runtime)
    for path, body, code in BAD_BODIES:
        resp = api.post(path, body)
        assert (resp.status_code, resp.get_json()["error"]) == (400, code), (path, body, resp.get_json())
    assert _row_counts(runtime) == before


MUTATING = ["/outbound/draft", "/outbound/opt-out", f"/outbound/{RANDOM}/send", "/outbound/process",
            "/continuity/apply", "/continuity/preview", "/loops/sync", "/identity/suggestions/apply",
            "/identity/suggestions/preview", "/upsell/radar/refresh"]


def test_malformed_bodies(api: Api, runtime) -> None:
    api.create_project("Project P")
    before = _row_counts(runtime)
    headers = {"x-csrf-token": api.csrf, "content-type": "application/json"}
    for path in MUTATING:
        assert api.client.post(path, data="{oops", headers=headers).get_json()["error"] == "invalid_json", path
        assert api.client.post(path, data="[1]", headers=headers).get_json()["error"] == "invalid_body", path
        plain = api.client.post(path, data="a=b", headers={**headers, "content-type": "text/plain"})
        assert plain.status_code == 415, path
    assert _row_counts(runtime) == before


def test_malformed_path_ids_and_query_parameters(api: Api) -> None:
    api.create_project("Project P")
    for path, code in (("/outbound/xyz/approve", "invalid_outbound_id"), ("/outbound/xyz/send", "invalid_outbound_id"),
                       ("/upsell/xyz/status", "invalid_upsell_id")):
        resp = api.post(path, {"status": "accepted"})
        assert (resp.status_code, resp.get_json()["error"]) == (400, code), path
    for path, code in (
        ("/outbound?status=nope", "invalid_status"), ("/outbound?limit=x", "invalid_limit"),
        ("/outbound?offset=1.5", "invalid_offset"), ("/upsell/radar?status=nope", "invalid_status"),
        ("/upsell/radar?limit=", None), ("/continuity/actions?status=nope", "invalid_status"),
        ("/identity/suggestions?status=nope", "invalid_status"), ("/identity/links?status=proposed", "invalid_status"),
        ("/identity/links?status=ALL", None), ("/evidence/search?q=x&limit=abc", "invalid_limit"),
        ("/outbound?limit=9999&offset=999999", None),
    ):
        resp = api.get(path)
        if code is None:
            assert resp.status_code == 200, path
        else:
            assert (resp.status_code, resp.get_json()["error"]) == (400, code), path


ROUTES = [("GET", "/outbound"), ("POST", "/outbound/draft"), ("POST", f"/outbound/{RANDOM}/approve"),
          ("POST", f"/outbound/{RANDOM}/send"), ("POST", "/outbound/opt-out"), ("POST", "/outbound/process"),
          ("GET", "/upsell/radar"), ("POST", "/upsell/radar/refresh"), ("POST", f"/upsell/{RANDOM}/status"),
          ("POST", "/continuity/preview"), ("GET", "/continuity/actions"), ("POST", "/continuity/apply"),
          ("POST", "/identity/suggestions/preview"), ("GET", "/identity/suggestions"),
          ("POST", "/identity/suggestions/apply"), ("GET", "/identity/links"), ("GET", "/evidence/search?q=x")]


def test_routes_need_an_active_project(api: Api) -> None:
    for method, path in ROUTES:
        for prefix in ("", "/v1"):
            resp = api.get(prefix + path) if method == "GET" else api.post(prefix + path, DRAFT)
            assert (resp.status_code, resp.get_json()["error"]) == (409, "active_project_required"), path
    resp = api.post("/loops/sync")
    assert (resp.status_code, resp.get_json()["error"]) == (409, "account_scope_required")


def test_other_projects_records_are_not_found(api: Api, runtime) -> None:
    home = scope_of(api.create_project("Home", scope_key="one"))
    message = api.post("/outbound/draft", DRAFT).get_json()["outbound"]
    upsell = UpsellOpportunity(project_id=home.project_id, account_scope_id=home.account_scope_id, title="t",
                               dedupe_key="d", source_ref="s")
    action = ContinuityAction(project_id=home.project_id, account_scope_id=home.account_scope_id, source_type="crm",
                              source_ref="r", title="t", dedupe_key="d")
    suggestion = IdentityLinkSuggestion(project_id=home.project_id, account_scope_id=home.account_scope_id,
                                        left_entity_type="a", left_entity_id="1", right_entity_type="b",
                                        right_entity_id="2", dedupe_key="d")
    add_rows(runtime, upsell, action, suggestion)
    api.post("/outbound/draft", {**DRAFT, "idempotency_key": "e", "evidence_refs": [
        {"ref": "cwmsg:1:9", "snippet": "secret budget line"}]})

    api.create_project("Away", scope_key="two")
    for path, code in ((f"/outbound/{message['id']}/approve", "outbound_not_found"),
                       (f"/outbound/{message['id']}/send", "outbound_not_found"),
                       (f"/upsell/{upsell.id}/status", "upsell_not_found")):
        resp = api.post(path, {"status": "accepted"})
        assert (resp.status_code, resp.get_json()["error"]) == (404, code)
    assert api.post("/continuity/apply", {"action_ids": [str(action.id)]}).get_json()["applied"] == 0
    assert api.post("/identity/suggestions/apply", {"suggestion_ids": [str(suggestion.id)]}).get_json()["applied"] == 0
    for path, key in (("/outbound", "outbound"), ("/upsell/radar", "opportunities"),
                      ("/continuity/actions", "actions"), ("/identity/suggestions?status=all", "suggestions"),
                      ("/evidence/search?q=budget", "evidence")):
        assert api.get(path).get_json()[key] == []
    # the same idempotency key in another project is a different draft
    assert api.post("/outbound/draft", DRAFT).status_code == 201
    assert message_row(runtime, message["id"]).status == "draft"
    with runtime.sessions() as s:
        assert s.get(UpsellOpportunity, upsell.id).status == "proposed"
        assert s.get(ContinuityAction, action.id).status == "previewed"


def test_every_mutation_is_audited_with_its_request_id(api: Api, runtime) -> None:
    scope = scope_of(api.create_project("Project P"))
    upsell = UpsellOpportunity(project_id=scope.project_id, account_scope_id=scope.account_scope_id, title="t",
                               dedupe_key="d", evidence_refs=["cwmsg:1:1"])
    add_rows(runtime, upsell)
    calls = [("/outbound/draft", DRAFT, "outbound.draft"),
             ("/outbound/opt-out", {"contact_global_id": "cwc:1:1", "channel": "email"}, "outbound.opt_out"),
             (f"/upsell/{upsell.id}/status", {"status": "accepted"}, "upsell.status_update")]
    for path, body, action in calls:
        resp = api.post(path, body, headers={"x-request-id": f"req-{action}"})
        assert resp.status_code in (200, 201)
        [event] = audits(runtime, action)
        assert event.request_id == f"req-{action}" and event.actor_username == "operator"
    mid = api.get("/outbound").get_json()["outbound"][0]["id"]
    api.post(f"/outbound/{mid}/approve", headers={"x-request-id": "req-approve"})
    [event] = audits(runtime, "outbound.approve")
    assert event.request_id == "req-approve" and event.payload == {"previous_status": "draft", "status": "approved"}
    listed = api.get("/audit?action=outbound.approve").get_json()["events"]
    assert [e["action"] for e in listed] == ["outbound.approve"] and listed[0]["entity_id"] == mid
    queued = api.post("/upsell/radar/refresh", headers={"x-request-id": "req-refresh"}).get_json()["job"]
    [event] = audits(runtime, "job.upsell_radar")
    assert event.status == "queued" and event.request_id == "req-refresh" and queued["request_id"] == "req-refresh"


def test_scheduled_runs_act_as_scheduler_and_write_no_refresh_audit(api: Api, runtime, run_jobs) -> None:
    scope = scope_of(api.create_project("Project P"))
    mid = api.post("/outbound/draft", DRAFT).get_json()["outbound"]["id"]
    api.post(f"/outbound/{mid}/approve")
    for job_type in ("campaign_scheduler", "upsell_radar"):
        enqueue(runtime, scope=scope, job_type=job_type, trigger="scheduler", params={"limit": 50},
                requested_by="scheduler")
    run_jobs("outbound", "intelligence")
    [send] = audits(runtime, "outbound.send")
    assert send.actor_username == "scheduler" and message_row(runtime, mid).status == "sent"
    assert audits(runtime, "upsell.refresh") == []


def test_evidence_search(api: Api, runtime) -> None:
    api.create_project("Project P")
    assert api.get("/evidence/search?q=%20%20").get_json()["evidence"] == []
    refs = [{"ref": "cwmsg:1:5", "snippet": "The budget for phase two is approved"}, "cw:1:7", "cwc:1:42"]
    api.post("/outbound/draft", {**DRAFT, "evidence_refs": refs})
    hits = api.get("/evidence/search?q=Budget phase").get_json()["evidence"]
    assert [h["source_pk"] for h in hits] == ["cwmsg:1:5"]
    assert hits[0]["message_global_id"] == "cwmsg:1:5" and hits[0]["source_table"] == "cw_messages"
    assert set(hits[0]) == {"id", "source_type", "source_table", "source_pk", "conversation_global_id",
                            "message_global_id", "contact_global_id", "snippet", "payload", "created_at"}
    assert [h["source_pk"] for h in api.get("/evidence/search?q=cw:1:7").get_json()["evidence"]] == ["cw:1:7"]
    assert api.get("/evidence/search?q=nothing-like-this").get_json()["evidence"] == []
    assert api.get("/evidence/search").get_json()["evidence"] == []
