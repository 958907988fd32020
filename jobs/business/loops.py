"""Loops contact sync (business.md §B5), the pure part of the ``loops_contacts_sync`` job.

The handler reads ``cw_contacts`` of the selected projects and the ``contact_channel_policies`` that
opted out of ``email``, makes the HTTP calls, and uses these functions for grouping, compliance
(an opted-out email is **never** pushed), the request body, error classification, counters and the
audit status.

Decisions where the spec is silent: a group's ``project_ids``/``project_names`` are ordered by
project name, then id; opted-out emails are not counted in ``skipped`` (that counter is defined as
"emails without @") but are reported as :attr:`LoopsTally.excluded` for logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_API_BASE_URL",
    "DEFAULT_SOURCE_TAG",
    "LoopsContact",
    "LoopsTally",
    "api_base_url",
    "exclude_opted_out",
    "group_contacts",
    "is_conflict_error",
    "split_unsendable",
    "missing_credentials_result",
]

DEFAULT_API_BASE_URL = "https://app.loops.so/api/v1"
DEFAULT_SOURCE_TAG = "portfolio-dashboard"
_CONFLICT_WORDS = ("exists", "already", "duplicate", "conflict")
MAX_ERRORS = 20
ERROR_CHARS = 300


def api_base_url(value: str | None) -> str:
    """``LOOPS_API_BASE_URL`` with the trailing ``/`` stripped (default ``https://app.loops.so/api/v1``)."""
    return (value or "").strip().rstrip("/") or DEFAULT_API_BASE_URL


def missing_credentials_result() -> dict[str, Any]:
    """``meta.result`` of a run skipped because ``LOOPS_SECRET_KEY`` is unset (no call is made)."""
    return {"skipped": "missing_credentials", "missing": ["LOOPS_SECRET_KEY"], "enabled": False,
            "processed": 0, "created": 0, "updated": 0, "failed": 0, "errors": []}


@dataclass(frozen=True)
class LoopsContact:
    email: str  # lower(trim(email))
    name: str
    contact_ids: tuple[str, ...]
    project_ids: tuple[str, ...]
    project_names: tuple[str, ...]

    def body(self, *, source_tag: str) -> dict[str, Any]:
        """The create/update request body."""
        return {"email": self.email, "firstName": self.name, "source": source_tag,
                "projectIds": list(self.project_ids), "projectNames": list(self.project_names)}


def group_contacts(contacts: Iterable[Mapping[str, Any]], *, limit: int) -> list[LoopsContact]:
    """Contacts with a non-blank email grouped by ``lower(trim(email))``, ordered by email, first ``limit``.
    ``name`` = the greatest non-blank trimmed name in the group, else the email's local part."""
    groups: dict[str, dict[str, Any]] = {}
    for c in contacts:
        raw = c.get("email")
        if not isinstance(raw, str) or not raw.strip():
            continue
        key = raw.strip().lower()
        group = groups.setdefault(key, {"names": [], "contacts": [], "projects": {}})
        name = c.get("name")
        if isinstance(name, str) and name.strip():
            group["names"].append(name.strip())
        group["contacts"].append(str(c.get("id")))
        group["projects"][str(c.get("project_id"))] = c.get("project_name") or ""
    result = []
    for email in sorted(groups)[:limit]:
        group = groups[email]
        projects = sorted(group["projects"].items(), key=lambda item: (item[1], item[0]))
        result.append(LoopsContact(
            email=email, name=max(group["names"]) if group["names"] else email.split("@", 1)[0],
            contact_ids=tuple(dict.fromkeys(group["contacts"])),
            project_ids=tuple(p for p, _ in projects), project_names=tuple(n for _, n in projects)))
    return result


def exclude_opted_out(groups: Iterable[LoopsContact],
                      opted_out_refs: Iterable[str]) -> tuple[list[LoopsContact], list[LoopsContact]]:
    """Compliance: drop every group for which an ``email`` policy with ``opted_out=true`` exists in a
    selected project whose ``contact_global_id`` is one of the group's contact ids or, case-insensitively,
    the email itself. Returns ``(kept, excluded)``."""
    refs = {r.strip() for r in opted_out_refs if isinstance(r, str)}
    folded = {r.casefold() for r in refs}
    kept, excluded = [], []
    for group in groups:
        if group.email.casefold() in folded or any(cid in refs for cid in group.contact_ids):
            excluded.append(group)
        else:
            kept.append(group)
    return kept, excluded


def split_unsendable(groups: Iterable[LoopsContact]) -> tuple[list[LoopsContact], int]:
    """Step 4: emails without ``@`` are skipped. Returns ``(sendable, skipped_count)``."""
    rows = list(groups)
    sendable = [g for g in rows if "@" in g.email]
    return sendable, len(rows) - len(sendable)


def is_conflict_error(text: str | None) -> bool:
    """A create error meaning "contact already exists": retry as ``/contacts/update``."""
    lowered = (text or "").casefold()
    return any(word in lowered for word in _CONFLICT_WORDS)


@dataclass
class LoopsTally:
    created: int = 0
    updated: int = 0
    failed: int = 0
    skipped: int = 0  # emails without "@"
    excluded: int = 0  # opted out (not part of the job result)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.created + self.updated

    def fail(self, email: str, message: str) -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"email": email, "message": (message or "")[:ERROR_CHARS]})

    @property
    def audit_status(self) -> str:
        """``ok`` if nothing failed, ``partial`` if some failed and some were processed, else ``failed``."""
        if self.failed == 0:
            return "ok"
        return "partial" if self.processed > 0 else "failed"

    def audit_payload(self, selected_project_ids: Iterable[str]) -> dict[str, Any]:
        return {"selected_project_ids": list(selected_project_ids), "processed": self.processed,
                "created": self.created, "updated": self.updated, "failed": self.failed, "skipped": self.skipped}

    def job_result(self, selected_project_ids: Iterable[str]) -> dict[str, Any]:
        return {"enabled": True, "selected_project_ids": list(selected_project_ids), "processed": self.processed,
                "created": self.created, "updated": self.updated, "failed": self.failed,
                "skipped": self.skipped, "errors": list(self.errors)}
