"""CRM routes (business.md §A1): accounts, opportunities, stage moves, overview."""

from __future__ import annotations

import uuid

from flask import Response, g

from shared.business import crm as rules
from shared.db.service import crm as svc
from shared.scope import Scope
from web.api import PathParam, route
from web.context import db, username, write
from web.crm import bp
from web.crm.schemas import (
    AccountCreateBody,
    AccountsQuery,
    OpportunitiesQuery,
    OpportunityCreateBody,
    StageBody,
    account_json,
    opportunity_json,
    stage_result_json,
)
from web.envelope import ok


@route(bp, "/crm/accounts", query=AccountsQuery, summary="CRM accounts of the active project")
def list_accounts(scope: Scope, q: AccountsQuery) -> Response:
    rows = svc.list_accounts(session=db(), scope=scope, limit=q.limit)
    return ok({"accounts": [account_json(a) for a in rows]})


@route(bp, "/crm/accounts", method="POST", body=AccountCreateBody, success=201,
       summary="Create a CRM account", responses={409: "account_name_conflict"})
def create_account(scope: Scope, body: AccountCreateBody) -> Response:
    account_in = rules.validate_account_create(body.model_dump(), session_username=username())
    with write() as s:
        account = svc.create_account(session=s, scope=scope, account_in=account_in, actor=username(),
                                     request_id=g.request_id)
    return ok({"account": account_json(account)}, status=201)


@route(bp, "/crm/opportunities", query=OpportunitiesQuery, summary="CRM opportunities, optionally by stage")
def list_opportunities(scope: Scope, q: OpportunitiesQuery) -> Response:
    rows = svc.list_opportunities(session=db(), scope=scope, stage=rules.opportunity_stage_filter(q.stage),
                                  limit=q.limit)
    return ok({"opportunities": [opportunity_json(o, name) for o, name in rows]})


@route(bp, "/crm/opportunities", method="POST", body=OpportunityCreateBody, success=201,
       summary="Create an opportunity (a concrete next step is required)", responses={404: "account_not_found"})
def create_opportunity(scope: Scope, body: OpportunityCreateBody) -> Response:
    opportunity_in = rules.validate_opportunity_create(body.model_dump(), session_username=username())
    with write() as s:
        opp, account_name = svc.create_opportunity(session=s, scope=scope, opportunity_in=opportunity_in,
                                                   actor=username(), request_id=g.request_id)
    return ok({"opportunity": opportunity_json(opp, account_name)}, status=201)


@route(bp, "/crm/opportunities/<opportunity_id>/stage", method="POST", body=StageBody,
       path={"opportunity_id": PathParam("uuid", "invalid_opportunity_id")},
       summary="Move an opportunity to a stage (recorded in the stage history)",
       responses={404: "opportunity_not_found"})
def update_stage(scope: Scope, opportunity_id: uuid.UUID, body: StageBody) -> Response:
    stage_in = rules.validate_stage_update(body.model_dump())
    with write() as s:
        opp = svc.update_opportunity_stage(session=s, scope=scope, opportunity_id=opportunity_id, stage_in=stage_in,
                                           actor=username(), request_id=g.request_id)
    return ok({"opportunity": stage_result_json(opp)})


@route(bp, "/crm/overview", summary="Account count, opportunities by stage, identity links by status")
def overview(scope: Scope) -> Response:
    return ok(svc.overview(session=db(), scope=scope))
