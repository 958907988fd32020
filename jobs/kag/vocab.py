"""KAG vocabularies (kag.md §2, §4.1, §5, §6.3, §7, §9, §10, §13, §14, §18): the one place for
every enumerated string, the status vocabularies and their allowed transitions.

Status vocabulary — one `RecommendationStatus` enum serves the three "proposal" artifacts:
v1 recommendations and legacy signals use `proposed, accepted, dismissed, done`; NBA adds
`cancelled`. Any status of the vocabulary may be set on those (the spec defines no matrix; setting
the current status again is a no-op, §19). v2 recommendations have their own lifecycle
(`new → acknowledged → done/dismissed`, reopen to `new`) enforced by `check_v2_transition`.

Input statuses are trimmed and lower-cased before validation (§1 "Enum filters are trimmed and
lower-cased"); a missing/empty/unknown value raises `InvalidStatus`. The v2 lifecycle and
`parse_status` are defined in `shared.kag.lifecycle` (routes and services need them; `web` and
`shared` never import `jobs`) and re-exported here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from shared.kag.lifecycle import (  # noqa: F401 - re-exported: defined once for web, services and core
    FEEDBACK_VALUES,
    V2_STATUSES,
    V2_TRANSITIONS,
    HelpfulFeedback,
    V2Status,
    check_v2_transition,
    parse_status,
)

# --- §4.1 graph -----------------------------------------------------------------------------

NODE_TYPES: tuple[str, ...] = (
    "project",
    "client",
    "person",
    "stage",
    "deliverable",
    "conversation",
    "message",
    "task",
    "blocker",
    "deal",
    "finance_entry",
    "agreement",
    "decision",
    "risk",
    "offer",
)
NODE_STATUSES: tuple[str, ...] = ("active", "inactive", "archived")
EDGE_STATUSES: tuple[str, ...] = ("active", "inactive")
EDGE_RELATIONS: tuple[str, ...] = tuple(
    f"project_has_{kind}"
    for kind in (
        "client",
        "stage",
        "deliverable",
        "task",
        "blocker",
        "deal",
        "finance_entry",
        "agreement",
        "decision",
        "risk",
        "offer",
        "conversation",
    )
) + (
    "conversation_has_message",
    "message_authored_by_person",
    "task_blocked_by_blocker",
    "deliverable_depends_on_task",
    "deal_for_client",
    "agreement_for_deal",
    "decision_about_stage",
    "risk_impacts_deliverable",
    "offer_targets_client",
)
GRAPH_EVENT_TYPES: tuple[str, ...] = (
    "message_sent",
    "decision_made",
    "agreement_created",
    "approval_approved",
    "stage_started",
    "stage_completed",
    "task_created",
    "task_blocked",
    "blocker_resolved",
    "deal_updated",
    "finance_entry_created",
    "risk_detected",
    "scope_change_requested",
    "need_detected",
    "offer_created",
)
GRAPH_EVENT_STATUSES: tuple[str, ...] = ("open", "processed", "ignored")
INGEST_SOURCES: tuple[str, ...] = ("chatwoot_messages", "linear_issues", "attio_deals")

# --- §3 / §18.1 provenance --------------------------------------------------------------------

PROVENANCE_OBJECT_KINDS: tuple[str, ...] = ("node", "edge", "event", "signal", "score", "recommendation")
PROVENANCE_SOURCE_KINDS: tuple[str, ...] = (
    "chatwoot_message",
    "linear_issue",
    "attio_record",
    "document",
    "rag_chunk",
    "manual",
    "system",
)

# --- §5 event log ---------------------------------------------------------------------------

DOMAIN_EVENT_TYPES: tuple[str, ...] = (
    "message_sent",
    "approval_requested",
    "scope_change_detected",
    "client_silent_started",
    "issue_created",
    "issue_blocked",
    "issue_unblocked",
    "deal_stage_changed",
    "invoice_paid",
    "invoice_sent",
    "note_logged",
    "activity_logged",
)
RESERVED_EVENT_TYPES: tuple[str, ...] = (
    "approval_approved",
    "stage_started",
    "stage_completed",
    "contact_updated",
)
PROCESS_EVENT_TYPES: tuple[str, ...] = (
    "process_started",
    "process_finished",
    "process_failed",
    "process_warning",
)
EVENT_LOG_TYPES: tuple[str, ...] = DOMAIN_EVENT_TYPES + RESERVED_EVENT_TYPES + PROCESS_EVENT_TYPES
EVENT_LOG_ACTORS: tuple[str, ...] = ("client", "team", "system")
EVENT_LOG_SOURCES: tuple[str, ...] = ("chatwoot", "linear", "attio", "system")
CONNECTORS: tuple[str, ...] = ("chatwoot", "linear", "attio")


class WarningCode(StrEnum):
    NO_EVIDENCE_DROPPED = "no_evidence_dropped"
    FORECAST_UNPUBLISHABLE = "forecast_unpublishable"
    SNAPSHOT_UNPUBLISHABLE = "snapshot_unpublishable"
    SIMILARITY_NO_SNAPSHOTS = "similarity_no_snapshots"
    EVENT_BACKLOG = "event_backlog"
    INVALID_EVENT_TIMESTAMP = "invalid_event_timestamp"
    EXTRACTOR_FAILED = "extractor_failed"


# --- §6.3 signals, §7 scores ------------------------------------------------------------------

SIGNAL_KEYS: tuple[str, ...] = (
    "waiting_on_client_days",
    "response_time_avg",
    "blockers_age",
    "stage_overdue",
    "agreement_overdue_count",
    "sentiment_trend",
    "scope_creep_rate",
    "budget_burn_rate",
    "margin_risk",
    "activity_drop",
)
SIGNAL_STATUSES: tuple[str, ...] = ("ok", "warn", "critical")
SCORE_TYPES: tuple[str, ...] = ("project_health", "risk", "client_value", "upsell_likelihood")
SCORE_LEVELS: tuple[str, ...] = ("low", "medium", "high", "critical")

# --- §9 v1, §10 legacy, §14 v2 ------------------------------------------------------------------

V1_CATEGORIES: tuple[str, ...] = (
    "waiting_on_client",
    "scope_creep_change_request",
    "delivery_risk",
    "finance_risk",
    "upsell_opportunity",
)
V2_CATEGORIES: tuple[str, ...] = V1_CATEGORIES + ("winback",)
OWNER_ROLES: tuple[str, ...] = ("pm", "finance_lead", "account_manager")
LEGACY_SIGNAL_TYPES: tuple[str, ...] = (
    "delivery_risk",
    "commercial_pressure",
    "upsell_intent",
    "urgency_increase",
    "delivery_overdue",
    "deal_without_next_step",
)
LEGACY_SOURCE_KINDS: tuple[str, ...] = ("conversation", "crm", "linear", "campaign", "system")
NBA_ACTION_TYPES: tuple[str, ...] = (
    "review_delivery_blockers",
    "prepare_pricing_response",
    "prepare_upsell_offer",
    "align_priority_and_timeline",
    "triage_signal",
)


class RecommendationStatus(StrEnum):
    """Shared vocabulary of v1 recommendations, legacy signals and NBA (§9, §10)."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"
    DONE = "done"
    CANCELLED = "cancelled"  # NBA only


V1_STATUSES: tuple[str, ...] = ("proposed", "accepted", "dismissed", "done")
LEGACY_SIGNAL_STATUSES: tuple[str, ...] = V1_STATUSES
NBA_STATUSES: tuple[str, ...] = V1_STATUSES + ("cancelled",)
TOP_NBA_STATUSES: tuple[str, ...] = ("proposed", "accepted")


# V2Status, V2_STATUSES, V2_TRANSITIONS, HelpfulFeedback, FEEDBACK_VALUES: `shared.kag.lifecycle`.

# --- §11-§13 ----------------------------------------------------------------------------------

OUTCOME_TYPES: tuple[str, ...] = ("delivery_risk", "finance_risk", "client_risk", "scope_risk")
RISK_TYPES: tuple[str, ...] = ("delivery_risk", "finance_risk", "client_risk", "scope_risk")
HORIZONS: tuple[int, ...] = (7, 14, 30)
WINDOW_DAYS: tuple[int, ...] = (7, 14, 30)
FORECAST_MODELS: tuple[str, ...] = ("rules_v1", "logit_v1")

# --- §2 feature flags -------------------------------------------------------------------------


class Flag(StrEnum):
    KAG_ENABLED = "KAG_ENABLED"
    RECOMMENDATIONS_ENABLED = "RECOMMENDATIONS_ENABLED"
    KAG_SNAPSHOTS_ENABLED = "KAG_SNAPSHOTS_ENABLED"
    KAG_FORECASTING_ENABLED = "KAG_FORECASTING_ENABLED"
    KAG_RECOMMENDATIONS_V2_ENABLED = "KAG_RECOMMENDATIONS_V2_ENABLED"


# --- §15 job types ----------------------------------------------------------------------------

JOB_EVENT_LOG_SYNC = "kag_event_log_sync"
JOB_REFRESH = "kag_recommendations_refresh"
JOB_SNAPSHOT = "project_snapshot_daily"
JOB_SIGNATURES = "case_signatures_refresh"
JOB_FORECAST = "kag_v2_forecast_refresh"
JOB_RECOMMENDATIONS_V2 = "kag_v2_recommendations_refresh"
JOB_LEGACY_SIGNALS = "signals_extraction"


# --- validation -------------------------------------------------------------------------------


# parse_status, check_v2_transition: `shared.kag.lifecycle` (routes and services apply them too).


def normalize_node_status(value: Any) -> str:
    """§4.1: any node status outside the vocabulary is stored as `active`."""
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text in NODE_STATUSES else "active"
