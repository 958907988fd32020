"""Project context used by recommendation templates (kag.md §9, §14.1).

`project_context(project, crm_accounts)` takes the `projects` row and the project's
`crm_accounts` rows (`name, updated_at`); the client is the most recently updated account.
Decision: ties on `updated_at` keep the first row given; blank names are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobs.kag.rows import field as get
from jobs.kag.templates import DEFAULT_CLIENT_NAME, DEFAULT_PROJECT_NAME
from jobs.kag.timeutil import parse_ts

__all__ = ["ProjectContext", "client_name_from_accounts", "project_context"]


@dataclass(frozen=True)
class ProjectContext:
    project_name: str = DEFAULT_PROJECT_NAME
    client_name: str = DEFAULT_CLIENT_NAME


def client_name_from_accounts(accounts: Iterable[Any] | None) -> str:
    best_name: str | None = None
    best_ts: datetime | None = None
    for row in accounts or ():
        name = get(row, "name")
        if not isinstance(name, str) or not name.strip():
            continue
        ts = parse_ts(get(row, "updated_at"))
        if best_name is None or (ts is not None and (best_ts is None or ts > best_ts)):
            best_name, best_ts = name.strip(), ts
    return best_name or DEFAULT_CLIENT_NAME


def project_context(project: Any = None, crm_accounts: Iterable[Any] | None = None) -> ProjectContext:
    name = get(project, "name")
    project_name = name.strip() if isinstance(name, str) and name.strip() else DEFAULT_PROJECT_NAME
    return ProjectContext(project_name=project_name, client_name=client_name_from_accounts(crm_accounts))
