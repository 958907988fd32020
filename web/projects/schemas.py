from __future__ import annotations

import re
from typing import Any

from pydantic import field_validator

from web.validation import Body

_SCOPE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class ProjectCreateIn(Body):
    error_codes = {"name": "invalid_name", "account_scope_key": "invalid_scope_key",
                   "account_scope_name": "invalid_body"}
    name: str
    account_scope_key: str | None = None
    account_scope_name: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not 2 <= len(value) <= 160:
            raise ValueError("Invalid project name")
        return value

    @field_validator("account_scope_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if value and not _SCOPE_KEY.match(value):
            raise ValueError("Invalid account scope key")
        return value or None

    @field_validator("account_scope_name")
    @classmethod
    def _scope_name(cls, value: str | None) -> str | None:
        return None if value is None else value.strip()[:160]


def project_json(project: Any, *, created: bool = True) -> dict[str, Any]:
    out = {"id": project.id, "name": project.name, "account_scope_id": project.account_scope_id}
    if created:
        out["created_at"] = project.created_at
    return out
