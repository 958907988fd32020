from __future__ import annotations

from typing import Any

from web.validation import Loose, Query


class OverviewQueryIn(Query):
    project_ids: Any = Loose({"type": "string"}, "comma-separated and/or repeated project ids (first 100)")
    message_limit: Any = Loose({"type": "integer", "minimum": 5, "maximum": 200}, "default 40")
    card_limit: Any = Loose({"type": "integer", "minimum": 4, "maximum": 80}, "default 16")


class MessagesQueryIn(Query):
    project_id: Any = Loose({"type": "string", "format": "uuid"}, "required; a project of the session's scope")
    contact_global_id: Any = Loose({"type": "string"})
    limit: Any = Loose({"type": "integer", "minimum": 20, "maximum": 500}, "default 200")
