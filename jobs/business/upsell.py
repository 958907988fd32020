"""Upsell radar detection (business.md §B1.1), the pure part of the ``upsell_radar`` job.

Two detectors over project rows: recent non-private ``cw_messages`` whose text mentions expansion,
and ``attio_opportunities_raw`` deals in a mid-pipeline stage. Candidates are upserted into
``upsell_opportunities`` on ``(project_id, dedupe_key)``; :func:`plan_upsell_upsert` decides each.

Decisions where the spec is silent:

* The opportunity rule compares the **normalised** stage (connectors-rag §4.6, as every stage
  comparison must), so ``Proposal Sent`` counts as ``proposal`` and ``In Progress`` as
  ``qualified``; ``Won 🎉`` never matches.
* "Last 21 days" means ``created_at ≥ now − 21 days``; messages without ``created_at`` are skipped.
* Candidates with the same ``dedupe_key`` within one run are merged (highest score kept), so
  ``generated_candidates`` counts distinct candidates.
* Keywords are plain case-insensitive substrings (``expanding`` contains ``expand``), as for
  kag.md's legacy keyword matching.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.business.crm import crm_stage_for_deal
from shared.business.dates import as_utc
from shared.business.numbers import to_decimal

__all__ = [
    "UPSELL_KEYWORDS",
    "UpsellCandidate",
    "UpsertPlan",
    "detect_message_candidates",
    "detect_opportunity_candidates",
    "detect_upsell_candidates",
    "plan_upsell_upsert",
    "upsell_dedupe_key",
]

UPSELL_KEYWORDS: tuple[str, ...] = ("upgrade", "add-on", "addon", "expand", "cross-sell", "cross sell",
                                    "crosssell", "upsell", "bundle", "new module")
MESSAGE_WINDOW = timedelta(days=21)
MESSAGE_LIMIT = 500
MESSAGE_CHARS = 1200
OPPORTUNITY_LIMIT = 300
_EXPANSION_STAGES = frozenset({"qualified", "proposal", "negotiation"})

MESSAGE_TITLE = "Potential expansion request from conversation"
MESSAGE_RATIONALE = "Client wording suggests interest in expanding scope"
OPPORTUNITY_RATIONALE = "Deal stage and size leave room for expansion"


def upsell_dedupe_key(project_id: object, source_ref: str, title: str) -> str:
    """``sha1_hex(f"{project_id}:{source_ref}:{title}")``."""
    return hashlib.sha1(f"{project_id}:{source_ref}:{title}".encode()).hexdigest()


@dataclass(frozen=True)
class UpsellCandidate:
    source_ref: str
    title: str
    rationale: str
    score: Decimal
    account_external_id: str | None
    evidence_refs: list[str]
    suggested_offer_payload: dict[str, Any]
    suggested_outbound_payload: dict[str, Any] = field(default_factory=dict)

    def dedupe_key(self, project_id: object) -> str:
        return upsell_dedupe_key(project_id, self.source_ref, self.title)


def _recent_texts(messages: Iterable[Mapping[str, Any]], *, now: datetime, limit: int,
                  chars: int) -> list[tuple[Mapping[str, Any], str]]:
    since = as_utc(now) - MESSAGE_WINDOW
    recent = [m for m in messages
              if not m.get("private") and m.get("created_at") is not None and as_utc(m["created_at"]) >= since]
    recent.sort(key=lambda m: as_utc(m["created_at"]), reverse=True)
    return [(m, (m.get("content") or "")[:chars]) for m in recent[:limit]]


def detect_message_candidates(messages: Iterable[Mapping[str, Any]], *, now: datetime) -> list[UpsellCandidate]:
    """Message rule: latest 500 non-private messages of the last 21 days, first 1200 characters,
    containing an expansion keyword. Score 0.72."""
    result = []
    for message, text in _recent_texts(messages, now=now, limit=MESSAGE_LIMIT, chars=MESSAGE_CHARS):
        lowered = text.casefold()
        if not any(k in lowered for k in UPSELL_KEYWORDS):
            continue
        refs = [str(r) for r in (message.get("id"), message.get("conversation_global_id")) if r is not None]
        result.append(UpsellCandidate(
            source_ref=str(message["id"]), title=MESSAGE_TITLE, rationale=MESSAGE_RATIONALE, score=Decimal("0.72"),
            account_external_id=None, evidence_refs=refs,
            suggested_offer_payload={"template": "expansion_offer_v1", "discount_recommendation_pct": 5},
            suggested_outbound_payload={"channel": "chatwoot", "message": "Happy to put together add-on options "
                                        "for you — shall I send a short comparison?"}))
    return result


def _opportunity_score(amount: object) -> Decimal:
    value = to_decimal(amount) or Decimal(0)
    if value > 50_000:
        return Decimal("0.80")
    if value > 20_000:
        return Decimal("0.70")
    return Decimal("0.62")


def detect_opportunity_candidates(opportunities: Iterable[Mapping[str, Any]]) -> list[UpsellCandidate]:
    """Opportunity rule over the latest 300 deals (``updated_at`` desc, nulls last): non-empty title
    and a qualified/proposal/negotiation stage. Score 0.80 / 0.70 / 0.62 by amount."""
    rows = list(opportunities)
    dated = sorted((o for o in rows if o.get("updated_at") is not None),
                   key=lambda o: as_utc(o["updated_at"]), reverse=True)
    ordered = (dated + [o for o in rows if o.get("updated_at") is None])[:OPPORTUNITY_LIMIT]
    result = []
    for opp in ordered:
        title = (opp.get("title") or "").strip()
        if not title or crm_stage_for_deal(opp.get("stage")) not in _EXPANSION_STAGES:
            continue
        opp_id = str(opp["id"])
        result.append(UpsellCandidate(
            source_ref=opp_id, title=f"Expansion path for {title}", rationale=OPPORTUNITY_RATIONALE,
            score=_opportunity_score(opp.get("amount")), account_external_id=opp.get("account_external_id"),
            evidence_refs=[opp_id],
            suggested_offer_payload={"template": "attio_expansion_track", "anchor_opportunity_id": opp_id},
            suggested_outbound_payload={"channel": "email", "message": "We prepared expansion options that fit "
                                        "your current roadmap milestone."}))
    return result


def detect_upsell_candidates(*, project_id: object, messages: Iterable[Mapping[str, Any]],
                             opportunities: Iterable[Mapping[str, Any]], now: datetime) -> list[UpsellCandidate]:
    """Both detectors, merged on ``dedupe_key`` (the higher score wins)."""
    merged: dict[str, UpsellCandidate] = {}
    for candidate in detect_message_candidates(messages, now=now) + detect_opportunity_candidates(opportunities):
        key = candidate.dedupe_key(project_id)
        if key not in merged or candidate.score > merged[key].score:
            merged[key] = candidate
    return list(merged.values())


@dataclass(frozen=True)
class UpsertPlan:
    action: str  # insert | update | skip
    values: dict[str, Any]


def plan_upsell_upsert(existing: Mapping[str, Any] | None, candidate: UpsellCandidate, *,
                       project_id: object) -> UpsertPlan:
    """New rows start ``proposed``. An existing ``proposed``/``accepted`` row gets
    ``score = max(old, new)`` and fresh rationale, payloads and refs; ``dismissed`` and
    ``converted`` rows are never modified. ``touched`` = inserts + updates."""
    content = {"rationale": candidate.rationale, "suggested_offer_payload": candidate.suggested_offer_payload,
               "suggested_outbound_payload": candidate.suggested_outbound_payload,
               "evidence_refs": list(candidate.evidence_refs)}
    if existing is None:
        return UpsertPlan("insert", {**content, "dedupe_key": candidate.dedupe_key(project_id),
                                     "source_ref": candidate.source_ref, "title": candidate.title,
                                     "account_external_id": candidate.account_external_id,
                                     "score": candidate.score, "status": "proposed"})
    if existing.get("status") not in ("proposed", "accepted"):
        return UpsertPlan("skip", {})
    old = to_decimal(existing.get("score")) or Decimal(0)
    return UpsertPlan("update", {**content, "score": max(old, candidate.score)})
