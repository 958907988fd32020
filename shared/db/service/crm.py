"""CRM accounts, opportunities and stage history (business.md §A1) and the Attio mirror
(connectors-rag §4.6). Callers own the transaction; functions flush but never commit.

Decisions where the specs are silent:

* A concurrent duplicate account name that slips past the pre-check is caught on the unique index
  inside a savepoint and reported as 409 ``account_name_conflict`` (never a 500).
* The Attio mirror never writes stage events or audit rows (the sync job's own audit covers it);
  a mirrored row is only updated when one of its mirrored columns changed, so ``updated_at`` keeps
  meaning "changed". A deal whose account was skipped (name clash) is skipped too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.audit import write_audit_event
from shared.business.crm import (
    ACCOUNT_NAME_MAX,
    NEXT_STEP_MAX,
    OPPORTUNITY_TITLE_MAX,
    AccountCreateIn,
    OpportunityCreateIn,
    StageUpdateIn,
    crm_stage_for_deal,
    ensure_account_name_available,
    links_by_status,
    mirror_account_stage,
    opportunity_by_stage,
    transition_opportunity_stage,
)
from shared.business.errors import AccountNameConflict, NotFound
from shared.business.numbers import clamp, money, ratio, to_decimal
from shared.db.models.business import CrmAccount, CrmOpportunity, CrmOpportunityStageEvent
from shared.db.models.growth import IdentityLink
from shared.db.service.projects import dialect_insert
from shared.scope import Scope
from shared.timeutil import utcnow

DEFAULT_NEXT_STEP = "Review next action"


# --- accounts -----------------------------------------------------------------------------------
def list_accounts(*, session: Session, scope: Scope, limit: int) -> list[CrmAccount]:
    stmt = (select(CrmAccount).filter_by(**scope.as_filter())
            .order_by(CrmAccount.updated_at.desc(), CrmAccount.id).limit(limit))
    return list(session.scalars(stmt))


def get_account(*, session: Session, scope: Scope, account_id: uuid.UUID | str) -> CrmAccount | None:
    return session.scalar(select(CrmAccount).filter_by(id=_uuid(account_id), **scope.as_filter()))


def get_account_or_raise(*, session: Session, scope: Scope, account_id: uuid.UUID | str) -> CrmAccount:
    account = get_account(session=session, scope=scope, account_id=account_id)
    if account is None:
        raise NotFound("account_not_found", "Account not found")
    return account


def create_account(*, session: Session, scope: Scope, account_in: AccountCreateIn, actor: str | None,
                   request_id: str | None) -> CrmAccount:
    """Insert the account and its ``crm.account.create`` audit row (409 on a duplicate name)."""
    taken = session.scalars(select(CrmAccount.name).filter_by(name=account_in.name, **scope.as_filter()))
    ensure_account_name_available(account_in.name, taken)
    account = CrmAccount(project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                         name=account_in.name, domain=account_in.domain, stage=account_in.stage,
                         owner_username=account_in.owner_username, external_ref=None)
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError:
        raise AccountNameConflict(None, f"An account named {account_in.name!r} already exists") from None
    write_audit_event(session, scope, actor_username=actor, action="crm.account.create", entity_type="crm_account",
                      entity_id=str(account.id), request_id=request_id,
                      payload={"name": account.name, "stage": account.stage}, evidence_refs=account_in.evidence_refs)
    return account


# --- opportunities ------------------------------------------------------------------------------
def list_opportunities(*, session: Session, scope: Scope, stage: str | None,
                       limit: int) -> list[tuple[CrmOpportunity, str | None]]:
    """Opportunities (``updated_at`` desc) with ``account_name`` from a LEFT JOIN on the accounts."""
    stmt = (select(CrmOpportunity, CrmAccount.name)
            .outerjoin(CrmAccount, CrmAccount.id == CrmOpportunity.account_id)
            .where(CrmOpportunity.project_id == scope.project_id,
                   CrmOpportunity.account_scope_id == scope.account_scope_id)
            .order_by(CrmOpportunity.updated_at.desc(), CrmOpportunity.id).limit(limit))
    if stage is not None:
        stmt = stmt.where(CrmOpportunity.stage == stage)
    return [(opp, name) for opp, name in session.execute(stmt)]


def get_opportunity(*, session: Session, scope: Scope, opportunity_id: uuid.UUID | str,
                    for_update: bool = False) -> CrmOpportunity | None:
    stmt = select(CrmOpportunity).filter_by(id=_uuid(opportunity_id), **scope.as_filter())
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def get_opportunity_or_raise(*, session: Session, scope: Scope, opportunity_id: uuid.UUID | str,
                             for_update: bool = False) -> CrmOpportunity:
    opp = get_opportunity(session=session, scope=scope, opportunity_id=opportunity_id, for_update=for_update)
    if opp is None:
        raise NotFound("opportunity_not_found", "Opportunity not found")
    return opp


def create_opportunity(*, session: Session, scope: Scope, opportunity_in: OpportunityCreateIn, actor: str | None,
                       request_id: str | None) -> tuple[CrmOpportunity, str]:
    """Insert the opportunity (its account must be in this project: else 404) and audit it."""
    account = get_account_or_raise(session=session, scope=scope, account_id=opportunity_in.account_id)
    opp = CrmOpportunity(
        project_id=scope.project_id, account_scope_id=scope.account_scope_id, account_id=account.id,
        title=opportunity_in.title, stage=opportunity_in.stage, amount_estimate=opportunity_in.amount_estimate,
        probability=opportunity_in.probability, expected_close_date=opportunity_in.expected_close_date,
        next_step=opportunity_in.next_step, owner_username=opportunity_in.owner_username,
        evidence_refs=opportunity_in.evidence_refs,
    )
    session.add(opp)
    session.flush()
    write_audit_event(session, scope, actor_username=actor, action="crm.opportunity.create",
                      entity_type="crm_opportunity", entity_id=str(opp.id), request_id=request_id,
                      payload={"title": opp.title, "stage": opp.stage, "amount_estimate": float(opp.amount_estimate),
                               "probability": float(opp.probability)},
                      evidence_refs=opportunity_in.evidence_refs)
    return opp, account.name


def update_opportunity_stage(*, session: Session, scope: Scope, opportunity_id: uuid.UUID, stage_in: StageUpdateIn,
                             actor: str | None, request_id: str | None) -> CrmOpportunity:
    """Lock the row, move it to the requested stage (any → any; same stage = confirmation), audit
    ``crm.opportunity.stage_update`` and append the stage event linked to that audit row."""
    opp = get_opportunity_or_raise(session=session, scope=scope, opportunity_id=opportunity_id, for_update=True)
    change = transition_opportunity_stage(opp.stage, stage_in.stage)
    opp.stage = change.to_stage
    opp.updated_at = utcnow()
    audit = write_audit_event(session, scope, actor_username=actor, action="crm.opportunity.stage_update",
                              entity_type="crm_opportunity", entity_id=str(opp.id), request_id=request_id,
                              payload=change.audit_payload(stage_in.reason), evidence_refs=stage_in.evidence_refs)
    session.add(CrmOpportunityStageEvent(
        project_id=scope.project_id, account_scope_id=scope.account_scope_id, opportunity_id=opp.id,
        from_stage=change.from_stage, to_stage=change.to_stage, reason=stage_in.reason,
        actor_username=actor or "unknown", evidence_refs=stage_in.evidence_refs, audit_event_id=audit["id"],
    ))
    session.flush()
    return opp


def stage_events(*, session: Session, scope: Scope, opportunity_id: uuid.UUID) -> list[CrmOpportunityStageEvent]:
    stmt = (select(CrmOpportunityStageEvent).filter_by(opportunity_id=opportunity_id, **scope.as_filter())
            .order_by(CrmOpportunityStageEvent.created_at, CrmOpportunityStageEvent.id))
    return list(session.scalars(stmt))


# --- overview -----------------------------------------------------------------------------------
def overview(*, session: Session, scope: Scope) -> dict[str, Any]:
    accounts = session.scalar(select(func.count()).select_from(CrmAccount).filter_by(**scope.as_filter())) or 0
    by_stage = dict(session.execute(
        select(CrmOpportunity.stage, func.count()).filter_by(**scope.as_filter()).group_by(CrmOpportunity.stage)
    ).all())
    links = dict(session.execute(
        select(IdentityLink.status, func.count()).filter_by(**scope.as_filter()).group_by(IdentityLink.status)
    ).all())
    return {"accounts": int(accounts), "opportunity_by_stage": opportunity_by_stage(by_stage),
            "links_by_status": links_by_status(links)}


# --- Attio → CRM mirror (connectors-rag §4.6) ---------------------------------------------------
def _get(row: Any, key: str) -> Any:
    return row.get(key) if isinstance(row, Mapping) else getattr(row, key, None)


def _clip(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()
    return text[:limit] or None


def mirror_crm(session: Session, scope: Scope, accounts: Iterable[Any], deals: Iterable[Any]) -> dict[str, int]:
    """Upsert Attio raw accounts/deals (mappings or rows with the raw columns: ``external_id``,
    ``name``, ``domain``, ``stage``; deals also ``account_external_id``, ``title``, ``amount``,
    ``probability``, ``expected_close_date``, ``next_step``) into ``crm_accounts`` /
    ``crm_opportunities`` on ``(project_id, external_ref)``. Idempotent: a repeated sync changes
    nothing; user-created rows (no ``external_ref``) are never touched.

    Returns ``{accounts, opportunities}`` (rows inserted or changed), ``skipped`` (accounts whose
    name another account of the project already uses: ``meta.crm_mirror_skipped``) and
    ``skipped_deals`` (deals without a mirrored account).
    """
    result = {"accounts": 0, "opportunities": 0, "skipped": 0, "skipped_deals": 0}
    insert = dialect_insert(session)
    now = utcnow()
    owner_of: dict[str, str | None] = {}  # name -> external_ref (None: a user-created account)
    name_of: dict[str, str] = {}  # external_ref -> name
    for name, ref in session.execute(select(CrmAccount.name, CrmAccount.external_ref).filter_by(**scope.as_filter())):
        owner_of[name] = ref
        if ref is not None:
            name_of[ref] = name
    skipped_refs: set[str] = set()
    for raw in accounts:
        ref = _clip(_get(raw, "external_id"), 500)
        if ref is None:
            continue
        name = _clip(_get(raw, "name"), ACCOUNT_NAME_MAX) or ref[:ACCOUNT_NAME_MAX]
        if name in owner_of and owner_of[name] != ref:
            result["skipped"] += 1
            skipped_refs.add(ref)
            continue
        owner_of.pop(name_of.get(ref, name), None)
        owner_of[name], name_of[ref] = ref, name
        values = {"name": name, "domain": _clip(_get(raw, "domain"), 300),
                  "stage": mirror_account_stage(_get(raw, "stage"))}
        stmt = insert(CrmAccount.__table__).values(id=uuid.uuid4(), project_id=scope.project_id,
                                         account_scope_id=scope.account_scope_id, external_ref=ref,
                                         created_at=now, updated_at=now, **values)
        table = CrmAccount.__table__.c
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "external_ref"], index_where=table.external_ref.isnot(None),
            set_={**{k: getattr(stmt.excluded, k) for k in values}, "updated_at": now},
            where=or_(*(table[k].is_distinct_from(getattr(stmt.excluded, k)) for k in values)),
        )
        result["accounts"] += len(session.execute(stmt.returning(table.id)).all())
    account_ids = dict(session.execute(
        select(CrmAccount.external_ref, CrmAccount.id).filter_by(**scope.as_filter())
        .where(CrmAccount.external_ref.isnot(None))).tuples().all())
    for raw in deals:
        ref = _clip(_get(raw, "external_id"), 500)
        account_ref = _clip(_get(raw, "account_external_id"), 500)
        if ref is None or account_ref is None or account_ref in skipped_refs or account_ref not in account_ids:
            result["skipped_deals"] += 1 if ref is not None else 0
            continue
        result["opportunities"] += _upsert_deal(session, scope, insert, raw, ref, account_ids[account_ref], now)
    session.flush()
    return result


def _upsert_deal(session: Session, scope: Scope, insert: Any, raw: Any, ref: str, account_id: uuid.UUID,
                 now: Any) -> int:
    probability = to_decimal(_get(raw, "probability"))
    close = _get(raw, "expected_close_date")
    if isinstance(close, str):
        try:
            close = date.fromisoformat(close.strip()[:10])
        except ValueError:
            close = None
    values = {
        "account_id": account_id,
        "title": _clip(_get(raw, "title"), OPPORTUNITY_TITLE_MAX) or f"Opportunity {ref}"[:OPPORTUNITY_TITLE_MAX],
        "stage": crm_stage_for_deal(_get(raw, "stage")),
        "amount_estimate": money(clamp(to_decimal(_get(raw, "amount")) or Decimal(0), 0, 1_000_000_000)),
        "probability": ratio(clamp(probability, 0, 1)) if probability is not None else Decimal("0.1000"),
        "expected_close_date": close if isinstance(close, date) else None,
        "next_step": _clip(_get(raw, "next_step"), NEXT_STEP_MAX) or DEFAULT_NEXT_STEP,
    }
    stmt = insert(CrmOpportunity.__table__).values(id=uuid.uuid4(), project_id=scope.project_id,
                                         account_scope_id=scope.account_scope_id, external_ref=ref,
                                         evidence_refs=[], created_at=now, updated_at=now, **values)
    table = CrmOpportunity.__table__.c
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "external_ref"], index_where=table.external_ref.isnot(None),
        set_={**{k: getattr(stmt.excluded, k) for k in values}, "updated_at": now},
        where=or_(*(table[k].is_distinct_from(getattr(stmt.excluded, k)) for k in values)),
    )
    return len(session.execute(stmt.returning(table.id)).all())


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


__all__ = [
    "DEFAULT_NEXT_STEP", "create_account", "create_opportunity", "get_account",
    "get_account_or_raise", "get_opportunity", "get_opportunity_or_raise", "list_accounts", "list_opportunities",
    "mirror_crm", "overview", "stage_events", "update_opportunity_stage",
]
