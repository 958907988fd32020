"""Offers (business.md §A2, §F, worked example G1): discount approval gates sending."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from shared.db.models.business import Offer, OfferApproval
from shared.db.models.platform import AuditEvent


def _offer(api, **body) -> dict:  # noqa: ANN001
    resp = api.post("/offers", body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["offer"]


def _approvals(rt, offer_id: str) -> list[OfferApproval]:  # noqa: ANN001
    with rt.session() as s:
        return list(s.scalars(select(OfferApproval).filter_by(offer_id=uuid.UUID(offer_id)).order_by(OfferApproval.id)))


def test_g1_discount_approval_gates_sending(api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    offer = _offer(api, title="Website redesign", subtotal=12000, discount_pct=10)
    assert (offer["status"], offer["total"], offer["currency"], offer["created_by"]) == (
        "draft", 10800, "USD", "operator")
    with clean.session() as s:
        created = s.scalar(select(AuditEvent).filter_by(action="offer.create", entity_id=offer["id"]))
    assert created.payload == {"subtotal": 12000, "discount_pct": 10, "total": 10800, "status": "draft"}

    send = f"/offers/{offer['id']}/approve-send"
    resp = api.post(send)
    assert (resp.status_code, resp.get_json()["error"]) == (409, "discount_approval_required")
    assert api.get("/offers").get_json()["offers"][0]["status"] == "draft" and _approvals(clean, offer["id"]) == []

    resp = api.post(f"/offers/{offer['id']}/approve-discount", {"comment": "Strategic client"})
    assert resp.status_code == 200 and resp.get_json()["offer"]["status"] == "approved"
    [approval] = _approvals(clean, offer["id"])
    assert (approval.action, approval.actor_username, approval.comment) == (
        "approve_discount", "operator", "Strategic client")
    with clean.session() as s:
        event = s.get(AuditEvent, approval.audit_event_id)
    assert (event.action, event.payload) == ("offer.approve_discount", {"discount_pct": 10})

    resp = api.post(send)
    assert resp.status_code == 200 and resp.get_json()["offer"]["status"] == "sent"
    assert [a.action for a in _approvals(clean, offer["id"])] == ["approve_discount", "approve_send"]
    with clean.session() as s:
        sent = s.get(AuditEvent, _approvals(clean, offer["id"])[1].audit_event_id)
    assert sent.payload == {"from_status": "approved", "to_status": "sent"}

    resp = api.post(send)
    assert (resp.status_code, resp.get_json()["error"]) == (409, "offer_invalid_state")
    resp = api.post(f"/offers/{offer['id']}/approve-discount")
    assert (resp.status_code, resp.get_json()["error"]) == (409, "offer_invalid_state")
    assert len(_approvals(clean, offer["id"])) == 2

    audit = _offer(api, title="Audit", subtotal=999.99, discount_pct=0)
    assert (audit["status"], audit["total"]) == ("approved", 999.99)
    resp = api.post(f"/offers/{audit['id']}/approve-discount")
    assert (resp.status_code, resp.get_json()["error"]) == (409, "offer_invalid_state")
    assert api.post(f"/v1/offers/{audit['id']}/approve-send").get_json()["offer"]["status"] == "sent"
    assert _offer(api, title="X", subtotal=999.99, discount_pct=12.5)["total"] == 874.99


def test_clamps_and_references(api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    over = _offer(api, title="Over", subtotal=100, discount_pct=150, currency=" eur ")
    assert (over["discount_pct"], over["total"], over["status"], over["currency"]) == (100, 0, "draft", "EUR")
    under = _offer(api, title="Under", subtotal=100, discount_pct=-3, evidence_refs=["cw:1"])
    assert (under["discount_pct"], under["status"], under["evidence_refs"][0]["ref"]) == (0, "approved", "cw:1")
    acc = api.post("/crm/accounts", {"name": "Acme"}).get_json()["account"]
    other = api.post("/crm/accounts", {"name": "Other"}).get_json()["account"]
    opp = api.post("/crm/opportunities", {"title": "Deal", "account_id": acc["id"],
                                          "next_step": "Call back"}).get_json()["opportunity"]
    linked = _offer(api, title="Linked", opportunity_id=opp["id"])
    assert (linked["account_id"], linked["opportunity_id"]) == (acc["id"], opp["id"])
    before = _counts(clean)
    for body, status, code in (
        ({}, 400, "invalid_offer_title"),
        ({"title": "  "}, 400, "invalid_offer_title"),
        ({"title": "T", "evidence_refs": "cw:1"}, 400, "invalid_evidence_refs"),
        ({"title": "T", "account_id": str(uuid.uuid4())}, 404, "account_not_found"),
        ({"title": "T", "account_id": "bad"}, 404, "account_not_found"),
        ({"title": "T", "opportunity_id": str(uuid.uuid4())}, 404, "opportunity_not_found"),
        ({"title": "T", "account_id": other["id"], "opportunity_id": opp["id"]}, 400, "offer_account_mismatch"),
    ):
        resp = api.post("/offers", body)
        assert (resp.status_code, resp.get_json()["error"]) == (status, code), body
    assert _counts(clean) == before
    for path, status, code in (("/offers/nope/approve-send", 400, "invalid_offer_id"),
                               (f"/offers/{uuid.uuid4()}/approve-send", 404, "offer_not_found")):
        resp = api.post(path)
        assert (resp.status_code, resp.get_json()["error"]) == (status, code)
    resp = api.post(f"/offers/{over['id']}/approve-discount", {"evidence_refs": "x"})
    assert (resp.status_code, resp.get_json()["error"]) == (400, "invalid_evidence_refs")
    assert _counts(clean) == before


def _counts(rt) -> tuple[int, int, int]:  # noqa: ANN001
    with rt.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Offer, OfferApproval, AuditEvent))


def test_other_projects_offer_is_404(api) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    offer = _offer(api, title="Mine", discount_pct=5)
    api.create_project("Proj Q")
    for action in ("approve-discount", "approve-send"):
        resp = api.post(f"/offers/{offer['id']}/{action}")
        assert (resp.status_code, resp.get_json()["error"]) == (404, "offer_not_found")
    assert api.get("/offers").get_json()["offers"] == []


def test_concurrent_approvals_make_exactly_one_transition(app, api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    offer = _offer(api, title="Race", subtotal=1000, discount_pct=20)
    cookies = {name: api.client.get_cookie(name).value for name in ("sid", "csrf_token")}
    workers = 8

    def client():  # noqa: ANN202 - one test client per thread, same operator session
        c = app.test_client()
        for name, value in cookies.items():
            c.set_cookie(name, value)
        return c

    def race(action: str) -> list[int]:
        barrier = threading.Barrier(workers)
        clients = [client() for _ in range(workers)]

        def hit(c) -> int:  # noqa: ANN001
            barrier.wait()
            return c.post(f"/offers/{offer['id']}/{action}", json={},
                          headers={"x-csrf-token": api.csrf}).status_code

        with ThreadPoolExecutor(workers) as pool:
            return sorted(pool.map(hit, clients))

    assert race("approve-discount") == [200] + [409] * (workers - 1)
    assert race("approve-send") == [200] + [409] * (workers - 1)
    assert [a.action for a in _approvals(clean, offer["id"])] == ["approve_discount", "approve_send"]
    assert api.get("/offers").get_json()["offers"][0]["status"] == "sent"
