from __future__ import annotations

from typing import Any

from web.crm.schemas import field
from web.validation import Query


class OverviewQueryIn(Query):
    project_ids: Any = field({"type": "string"}, "comma-separated and/or repeated project ids (first 100)")
    message_limit: Any = field({"type": "integer", "minimum": 5, "maximum": 200}, "default 40")
    card_limit: Any = field({"type": "integer", "minimum": 4, "maximum": 80}, "default 16")


class MessagesQueryIn(Query):
    project_id: Any = field({"type": "string", "format": "uuid"}, "required; a project of the session's scope")
    contact_global_id: Any = field({"type": "string"})
    limit: Any = field({"type": "integer", "minimum": 20, "maximum": 500}, "default 200")
