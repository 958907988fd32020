"""Attio raw rows (connectors-rag §4.4, §15): idempotent upserts. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from shared.db.models.attio import AttioAccountRaw, AttioActivityRaw, AttioOpportunityRaw, AttioPersonRaw
from shared.db.service.upserts import Upserted, upsert_rows
from shared.scope import Scope

COMMON = ("workspace_id", "external_id", "data", "updated_at")
ACCOUNT_COMPARE = (*COMMON, "name", "domain", "stage", "annual_revenue")
OPPORTUNITY_COMPARE = (*COMMON, "account_external_id", "title", "stage", "amount", "probability",
                       "expected_close_date", "next_step")
PERSON_COMPARE = (*COMMON, "account_external_id", "full_name", "email", "role")
ACTIVITY_COMPARE = (*COMMON, "record_external_id", "activity_type", "note", "actor_name", "occurred_at")


def upsert_accounts(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, AttioAccountRaw, scope, rows, compare=ACCOUNT_COMPARE)


def upsert_opportunities(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, AttioOpportunityRaw, scope, rows, compare=OPPORTUNITY_COMPARE)


def upsert_people(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, AttioPersonRaw, scope, rows, compare=PERSON_COMPARE)


def upsert_activities(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    """Ids of the note rows inserted or changed (their chunks need a sync)."""
    return upsert_rows(session, AttioActivityRaw, scope, rows, compare=ACTIVITY_COMPARE)
