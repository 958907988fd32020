"""The (project, account scope) pair that every scoped read and write filters on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    project_id: uuid.UUID
    account_scope_id: uuid.UUID

    def as_filter(self) -> dict[str, uuid.UUID]:
        return {"project_id": self.project_id, "account_scope_id": self.account_scope_id}

    def to_json(self) -> dict[str, str]:
        return {"project_id": str(self.project_id), "account_scope_id": str(self.account_scope_id)}

    @classmethod
    def of(cls, project_id: object, account_scope_id: object) -> Scope:
        def as_uuid(v: object) -> uuid.UUID:
            return v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))

        return cls(as_uuid(project_id), as_uuid(account_scope_id))
