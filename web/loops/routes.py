"""Loops contact sync (business.md §B5): scope-wide, always 202; the job does the rest.

``project_ids`` outside the session's account scope are dropped by the job (it only ever reads the
scope's projects); the run is keyed on the active project like every other job (§0.7).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from shared.business.loops import parse_loops_request
from shared.errors import Conflict
from shared.scope import Scope
from web.api import route
from web.context import auth
from web.loops import bp
from web.triggers import accepted, trigger_job
from web.validation import Body


class LoopsSyncIn(Body):
    project_ids: Any = None
    limit: Any = None


@route(bp, "/loops/sync", method="POST", account=True, body=LoopsSyncIn, success=202,
       summary="Enqueue the Loops contact sync for projects of the account scope")
def sync(account_scope_id: uuid.UUID, body: LoopsSyncIn) -> Response:
    request = parse_loops_request(body.model_dump())
    ctx = auth()
    if ctx.active_project_id is None:  # the run is keyed on the active project (§0.7)
        raise Conflict("account_scope_required", "Select a project of the account scope first")
    scope = Scope(ctx.active_project_id, account_scope_id)
    return accepted(trigger_job(scope, "loops_contacts_sync", params=request.params()))
