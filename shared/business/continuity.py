"""Continuity apply rules (business.md §B2, ``POST /continuity/apply``), synchronous and bounded.

Tables ``continuity_actions`` (read/update) and ``linear_issues_raw`` (a **local** follow-up row;
v1 never calls the Linear API). The preview detection is in ``jobs/business/continuity.py``.

Decisions where the spec is silent: the local issue's ``data.description`` is the action's
description (or null); ``linear_project_external_id`` is set to the chosen Linear project, so the
follow-up appears under that project in delivery views.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.business.errors import InvalidInput
from shared.business.params import parse_enum, parse_id_list

__all__ = [
    "ACTION_STATUSES",
    "APPLICABLE_STATUSES",
    "FALLBACK_LINEAR_PROJECT",
    "applied_action_changes",
    "choose_linear_project",
    "continuity_issue_row",
    "is_applicable",
    "parse_action_status_filter",
    "validate_action_ids",
]

ACTION_STATUSES: tuple[str, ...] = ("previewed", "applied", "dismissed", "failed")
APPLICABLE_STATUSES = frozenset({"previewed", "failed"})
FALLBACK_LINEAR_PROJECT = "continuity-fallback"
MAX_APPLY_IDS = 200


def validate_action_ids(value: object) -> list[str]:
    """``action_ids``: an array of UUID strings, de-duplicated, first 200. A non-array or any
    non-UUID element → 400 ``invalid_action_ids``; ``[]`` is valid (nothing applied). The field is
    required: absent or ``null`` is a 400 too (§F "the required-field errors apply")."""
    if value is None:
        raise InvalidInput("invalid_action_ids", "action_ids must be an array of ids")
    return parse_id_list(value, max_items=MAX_APPLY_IDS, uuids=True, error_code="invalid_action_ids")


def parse_action_status_filter(value: object) -> str | None:
    """``GET /continuity/actions?status=``: empty → None; unknown → 400 ``invalid_status``."""
    return parse_enum(value, ACTION_STATUSES, error_code="invalid_status")


def is_applicable(status: str | None) -> bool:
    """Only ``previewed`` or ``failed`` actions are applied; others are skipped silently."""
    return status in APPLICABLE_STATUSES


def choose_linear_project(external_ids_newest_first: Sequence[str | None]) -> str:
    """The project's most recently updated Linear project external id, else ``continuity-fallback``."""
    for external_id in external_ids_newest_first:
        if external_id:
            return external_id
    return FALLBACK_LINEAR_PROJECT


def continuity_issue_row(*, project_id: object, action: Mapping[str, Any], actor: str,
                         linear_project_external_id: str) -> dict[str, Any]:
    """The local ``linear_issues_raw`` row for an applied action (upserted on ``id``; on conflict
    the writer updates title, assignee_name, data and updated_at)."""
    action_id = str(action["id"])
    payload = action.get("preview_payload") if isinstance(action.get("preview_payload"), Mapping) else {}
    title = payload.get("suggested_linear_title") or action.get("title")
    return {
        "id": f"linissue:{project_id}:continuity:{action_id}",
        "external_id": f"continuity:{action_id}",
        "workspace_id": "continuity",
        "linear_project_external_id": linear_project_external_id,
        "title": title,
        "state": "Todo",
        "priority": 2,
        "assignee_name": actor,
        "due_date": None,
        "completed_at": None,
        "data": {"source": "continuity_apply", "action_id": action_id, "description": action.get("description")},
    }


def applied_action_changes(action: Mapping[str, Any], *, actor: str, issue_external_id: str) -> dict[str, Any]:
    """Columns to set on an applied action: status, the issue external id, ``created_by`` only if null."""
    changes: dict[str, Any] = {"status": "applied", "linear_issue_external_id": issue_external_id}
    if action.get("created_by") is None:
        changes["created_by"] = actor
    return changes
