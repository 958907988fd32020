"""``scheduled_jobs`` rows (platform §8.1): seeding per project, insert-if-missing."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from shared.catalog import SCHEDULED_DEFAULTS
from shared.db.models.platform import ScheduledJob
from shared.db.service.projects import dialect_insert
from shared.scope import Scope
from shared.timeutil import utcnow


def seed_defaults(*, session: Session, scope: Scope) -> None:
    insert = dialect_insert(session)
    now = utcnow()
    rows = [
        {"project_id": scope.project_id, "account_scope_id": scope.account_scope_id, "job_type": name,
         "id": uuid.uuid4(),
         "cadence_seconds": spec.cadence_seconds, "next_run_at": now, "status": "active", "payload": {},
         "created_at": now, "updated_at": now}
        for name, spec in SCHEDULED_DEFAULTS.items()
    ]
    session.execute(insert(ScheduledJob).values(rows).on_conflict_do_nothing(index_elements=["project_id", "job_type"]))
