"""Attio rows the connector marked deleted upstream (``deleted_at``) are kept but no longer count."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.db.models.attio import AttioAccountRaw, AttioOpportunityRaw
from shared.db.service import business_inputs, identity, kag_v2, upsell
from shared.runtime import Runtime
from shared.scope import Scope
from tests.db.test_rag_chunks import make_scope

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def seed(rt: Runtime, scope: Scope) -> None:
    with rt.transaction() as s:
        for key, deleted in (("live", None), ("gone", NOW)):
            s.add(AttioOpportunityRaw(
                id=f"attio:ws:deal:{key}", workspace_id="ws", external_id=key, title=f"Deal {key}", stage="Proposal",
                amount=Decimal("1000.00"), updated_at=NOW, deleted_at=deleted,
                project_id=scope.project_id, account_scope_id=scope.account_scope_id))
            s.add(AttioAccountRaw(
                id=f"attio:ws:company:{key}", workspace_id="ws", external_id=key, name=f"Company {key}",
                domain=f"{key}.example", updated_at=NOW, deleted_at=deleted,
                project_id=scope.project_id, account_scope_id=scope.account_scope_id))


def test_readers_skip_rows_deleted_upstream(clean: Runtime) -> None:
    scope = make_scope(clean)
    seed(clean, scope)
    with clean.session() as s:
        assert [r["amount"] for r in business_inputs.attio_opportunities(s, scope)] == [Decimal("1000.00")]
        deals = upsell.recent_attio_opportunities(session=s, scope=scope, limit=10)
        assert [r["title"] for r in deals] == ["Deal live"]
        assert len(kag_v2.attio_deals(session=s, scope=scope)) == 1
        assert [a["name"] for a in identity.identity_inputs(session=s, scope=scope)["accounts"]] == ["Company live"]


def test_the_deleted_rows_are_still_stored(clean: Runtime) -> None:
    scope = make_scope(clean)
    seed(clean, scope)
    with clean.session() as s:
        assert s.query(AttioOpportunityRaw).filter_by(**scope.as_filter()).count() == 2
