"""Offer routes (business.md §A2): list, create, approve the discount, approve the send."""

from __future__ import annotations

import uuid

from flask import Response, g

from shared.business import offers as rules
from shared.db.service import offers as svc
from shared.scope import Scope
from web.api import PathParam, route
from web.context import db, runtime, username, write
from web.envelope import ok
from web.offers import bp
from web.offers.schemas import ApprovalBody, OfferCreateBody, OffersQuery, offer_json

OFFER_ID = {"offer_id": PathParam("uuid", "invalid_offer_id")}
STATE_ERRORS = {404: "offer_not_found", 409: "offer_invalid_state / discount_approval_required"}


@route(bp, "/offers", query=OffersQuery, summary="Offers of the active project")
def list_offers(scope: Scope, q: OffersQuery) -> Response:
    return ok({"offers": [offer_json(o) for o in svc.list_offers(session=db(), scope=scope, limit=q.limit)]})


@route(bp, "/offers", method="POST", body=OfferCreateBody, success=201,
       summary="Create an offer (draft when the discount needs approval, else approved)",
       responses={404: "account_not_found / opportunity_not_found"})
def create_offer(scope: Scope, body: OfferCreateBody) -> Response:
    threshold = svc.discount_threshold(runtime().settings.environ)
    offer_in = rules.validate_offer_create(body.model_dump(), threshold_pct=threshold)
    with write() as s:
        offer = svc.create_offer(session=s, scope=scope, offer_in=offer_in, actor=username(), request_id=g.request_id)
    return ok({"offer": offer_json(offer)}, status=201)


def _approve(scope: Scope, offer_id: uuid.UUID, body: ApprovalBody, action: str) -> Response:
    approval_in = rules.validate_approval(body.model_dump())
    with write() as s:
        offer = svc.approve(session=s, scope=scope, offer_id=offer_id, action=action, approval_in=approval_in,
                            actor=username(), request_id=g.request_id)
    return ok({"offer": offer_json(offer)})


@route(bp, "/offers/<offer_id>/approve-discount", method="POST", body=ApprovalBody, path=OFFER_ID,
       summary="Approve a draft offer's discount (draft → approved)", responses=STATE_ERRORS)
def approve_discount(scope: Scope, offer_id: uuid.UUID, body: ApprovalBody) -> Response:
    return _approve(scope, offer_id, body, rules.OfferAction.APPROVE_DISCOUNT.value)


@route(bp, "/offers/<offer_id>/approve-send", method="POST", body=ApprovalBody, path=OFFER_ID,
       summary="Confirm an approved offer was sent (approved → sent)", responses=STATE_ERRORS)
def approve_send(scope: Scope, offer_id: uuid.UUID, body: ApprovalBody) -> Response:
    return _approve(scope, offer_id, body, rules.OfferAction.APPROVE_SEND.value)
