"""Loops sync request rules (business.md §B5, ``POST /loops/sync``, scope-wide) for the web layer.

The route validates and clamps the body, then enqueues ``loops_contacts_sync`` (always 202). The
job resolves the selection with :func:`resolve_loops_projects`; the sync itself is in
``jobs/business/loops.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.business.params import parse_id_list, parse_lenient_int

__all__ = ["LoopsRequest", "parse_loops_request", "resolve_loops_projects"]


@dataclass(frozen=True)
class LoopsRequest:
    project_ids: list[str]  # empty = every project of the session scope
    limit: int

    def params(self) -> dict[str, Any]:
        """``meta.params`` of the run."""
        return {"project_ids": list(self.project_ids), "limit": self.limit}


def parse_loops_request(body: Mapping[str, Any]) -> LoopsRequest:
    """``project_ids`` (array or comma-separated string; non-UUIDs dropped; de-duplicated; first 100)
    and ``limit`` (300, [1, 5000]). Never raises."""
    return LoopsRequest(project_ids=parse_id_list(body.get("project_ids"), max_items=100, allow_csv=True, uuids=True),
                        limit=parse_lenient_int(body.get("limit"), default=300, lo=1, hi=5000))


def resolve_loops_projects(requested_ids: Sequence[str], scope_projects: Iterable[Mapping[str, Any]]) -> list[str]:
    """The selected project ids: all of the scope when none were requested, else the requested ones
    that belong to the scope (ids outside it are dropped). Ordered as ``scope_projects``."""
    scope_ids = [str(p["id"]) for p in scope_projects]
    if not requested_ids:
        return scope_ids
    wanted = set(requested_ids)
    return [pid for pid in scope_ids if pid in wanted]
