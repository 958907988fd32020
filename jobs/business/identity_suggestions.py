"""Identity link suggestions (business.md §B3.2), the pure part of the ``identity_suggestions`` job.

Inputs: ``cw_contacts`` (id, name, email), ``attio_accounts_raw`` (id, name, domain) and
``linear_projects_raw`` (id, name), each passed newest first (``updated_at`` desc); at most 400 of
each are used. Output: candidates for ``identity_link_suggestions`` (upsert on
``(project_id, dedupe_key)``) and the job's ``generated`` count.

Similarity and domain rules come from ``shared/business/identity.py``: names match across Cyrillic
and Latin spellings, and a generic mail domain (gmail.com, mail.ru, …) never counts as a domain
match, so two strangers with Gmail addresses are never linked to an account whose domain field
says ``gmail.com``.

Decisions where the spec is silent: ``generated`` is the number of distinct candidate pairs that
passed their threshold (before the ``limit`` cut); ``stored`` is counted by the writer (rows
inserted or updated). Ties on confidence keep detector order (contact↔account first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.business.identity import (
    domains_match,
    email_domain,
    normalize_domain,
    similarity,
    suggestion_dedupe_key,
)
from shared.business.numbers import ratio, to_decimal

__all__ = [
    "ACCOUNT_PROJECT_THRESHOLD",
    "CONTACT_ACCOUNT_THRESHOLD",
    "SuggestionBuild",
    "SuggestionCandidate",
    "build_suggestions",
    "plan_suggestion_upsert",
]

ROW_LIMIT = 400
CONTACT_ACCOUNT_THRESHOLD = 0.72
ACCOUNT_PROJECT_THRESHOLD = 0.65
DOMAIN_MATCH_SCORE = 0.95


@dataclass(frozen=True)
class SuggestionCandidate:
    left_entity_type: str
    left_entity_id: str
    right_entity_type: str
    right_entity_id: str
    confidence: Decimal  # 4 dp
    reason: str
    meta: dict[str, Any]
    evidence_refs: list[str] = field(default_factory=list)

    @property
    def dedupe_key(self) -> str:
        return suggestion_dedupe_key(self.left_entity_type, self.left_entity_id, self.right_entity_type,
                                     self.right_entity_id)


@dataclass(frozen=True)
class SuggestionBuild:
    generated: int
    candidates: list[SuggestionCandidate]  # sorted by confidence desc, de-duplicated, first `limit`


def _contact_account(contact: Mapping[str, Any], account: Mapping[str, Any]) -> SuggestionCandidate | None:
    domain_match = domains_match(contact.get("email"), account.get("domain"))
    score = max(similarity(contact.get("name"), account.get("name")), DOMAIN_MATCH_SCORE if domain_match else 0.0)
    if score < CONTACT_ACCOUNT_THRESHOLD:
        return None
    left_id, right_id = str(contact["id"]), str(account["id"])
    return SuggestionCandidate(
        "cw_contact", left_id, "attio_account", right_id, ratio(score),
        "matching_email_domain" if domain_match else "matching_contact_account_name",
        {"contact_name": contact.get("name"), "account_name": account.get("name"),
         "contact_domain": email_domain(contact.get("email")),
         "account_domain": normalize_domain(account.get("domain"))},
        [left_id, right_id])


def _account_project(account: Mapping[str, Any], project: Mapping[str, Any]) -> SuggestionCandidate | None:
    score = similarity(account.get("name"), project.get("name"))
    if score < ACCOUNT_PROJECT_THRESHOLD:
        return None
    left_id, right_id = str(account["id"]), str(project["id"])
    return SuggestionCandidate("attio_account", left_id, "linear_project", right_id, ratio(score),
                               "matching_account_project_name",
                               {"account_name": account.get("name"), "linear_project_name": project.get("name")},
                               [left_id, right_id])


def build_suggestions(*, contacts: Iterable[Mapping[str, Any]], accounts: Iterable[Mapping[str, Any]],
                      projects: Iterable[Mapping[str, Any]], limit: int) -> SuggestionBuild:
    """Score contact↔account and account↔project pairs, sort by confidence desc, de-duplicate on
    ``dedupe_key`` and keep the first ``limit`` (``limit`` already clamped to [1, 200])."""
    contact_rows = list(contacts)[:ROW_LIMIT]
    account_rows = list(accounts)[:ROW_LIMIT]
    project_rows = list(projects)[:ROW_LIMIT]
    found: list[SuggestionCandidate] = []
    for contact in contact_rows:
        for account in account_rows:
            candidate = _contact_account(contact, account)
            if candidate is not None:
                found.append(candidate)
    for account in account_rows:
        for project in project_rows:
            candidate = _account_project(account, project)
            if candidate is not None:
                found.append(candidate)
    found.sort(key=lambda c: c.confidence, reverse=True)
    unique: dict[str, SuggestionCandidate] = {}
    for candidate in found:
        unique.setdefault(candidate.dedupe_key, candidate)
    return SuggestionBuild(generated=len(unique), candidates=list(unique.values())[:limit])


@dataclass(frozen=True)
class UpsertPlan:
    action: str  # insert | update | skip
    values: dict[str, Any]


def plan_suggestion_upsert(existing: Mapping[str, Any] | None, candidate: SuggestionCandidate) -> UpsertPlan:
    """Insert as ``proposed``; on conflict update only a ``proposed`` row: ``confidence = max(old, new)``,
    replace reason, refs and meta. Applied or dismissed suggestions are left alone."""
    content = {"reason": candidate.reason, "evidence_refs": list(candidate.evidence_refs), "meta": candidate.meta}
    if existing is None:
        return UpsertPlan("insert", {**content, "left_entity_type": candidate.left_entity_type,
                                     "left_entity_id": candidate.left_entity_id,
                                     "right_entity_type": candidate.right_entity_type,
                                     "right_entity_id": candidate.right_entity_id,
                                     "confidence": candidate.confidence, "dedupe_key": candidate.dedupe_key,
                                     "status": "proposed"})
    if existing.get("status") != "proposed":
        return UpsertPlan("skip", {})
    old = to_decimal(existing.get("confidence")) or Decimal(0)
    return UpsertPlan("update", {**content, "confidence": max(old, candidate.confidence)})
