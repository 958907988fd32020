"""Linear connector (connectors-rag §5): projects, workflow states, cycles and issues over GraphQL.

``sync_linear`` is the routine ``jobs.connectors.sync.run_sync`` calls. Every connection is read as
``nodes`` + ``pageInfo {hasNextPage endCursor}``. Issues are scanned incrementally (``updatedAt``
filter) and resumably: each page's rows, chunks and the scan position (``meta.issues_scan`` of the
watermark, copied to ``connector_sync_state.page_cursor``) commit together, so a run that stops —
limit reached, crash, killed worker — is continued by the next one from the same cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from jobs.connectors.common import ChunkTotals, RunStats, chunk_sync, dedupe_last, max_ts
from jobs.context import report_progress
from shared.db.service import connectors as connectors_svc
from shared.db.service import linear as store
from shared.db.service.chunk_batches import ChunkSource
from shared.db.service.watermarks import get_watermark, save_watermark
from shared.errors import TransientError, UpstreamClientError
from shared.http import HttpSettings, VendorHttp, vendor_limiter
from shared.normalize import clean_json, clean_text, clip, env_int, parse_date, parse_ts, to_int
from shared.runtime import Runtime, current
from shared.scope import Scope
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_FIRST = 250  # vendor maximum for one connection
SOURCE_TYPE, SOURCE_TABLE = "linear_issue", "linear_issues_raw"
PAGE_INFO = "pageInfo { hasNextPage endCursor }"


# --- configuration (§5.1) ------------------------------------------------------------------------
@dataclass(frozen=True)
class LinearSettings:
    base_url: str = "https://api.linear.app/graphql"
    token: str = ""
    sync_limit: int = 200
    page_size: int = 50
    overlap_seconds: int = 120

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LinearSettings:
        return cls(
            base_url=(env.get("LINEAR_BASE_URL") or "").strip() or cls.base_url,
            token=(env.get("LINEAR_API_TOKEN") or "").strip(),
            sync_limit=env_int("LINEAR_SYNC_LIMIT", 200, 1, 1000, env),
            page_size=env_int("LINEAR_PAGE_SIZE", 50, 1, 100, env),
            overlap_seconds=env_int("LINEAR_OVERLAP_SECONDS", 120, 0, 86400, env),
        )


# --- vendor base and resources (§5.2) --------------------------------------------------------------
class LinearResource:
    """Linear GraphQL: one endpoint, ``Authorization: <key>``, Relay connections with ``pageInfo``.

    A subclass names its operation, root connection field and node selection; ``page`` does the rest.
    """

    operation: ClassVar[str]
    root: ClassVar[str]
    selection: ClassVar[str]
    arguments: ClassVar[str] = "first: $first, after: $after"
    variables_decl: ClassVar[str] = "$first: Int!, $after: String"

    def __init__(self, http: VendorHttp, stats: RunStats) -> None:
        self.http, self.stats = http, stats

    @staticmethod
    def client(settings: LinearSettings, http_settings: HttpSettings, limiter: Any = None) -> VendorHttp:
        headers = {"Authorization": settings.token, "Content-Type": "application/json",
                   "Accept": "application/json"}
        return VendorHttp("linear", settings.base_url, headers=headers, settings=http_settings, limiter=limiter,
                          graphql=True)

    @classmethod
    def query(cls) -> str:
        return (f"query {cls.operation}({cls.variables_decl}) {{ {cls.root}({cls.arguments}) "
                f"{{ nodes {{ {cls.selection} }} {PAGE_INFO} }} }}")

    def execute(self, variables: dict[str, Any]) -> dict[str, Any]:
        payload = self.http.post("", {"operationName": self.operation, "query": self.query(), "variables": variables})
        data = payload.get("data")
        return data if isinstance(data, dict) else {}

    def page(self, *, first: int, after: str | None, **variables: Any) -> tuple[list[dict[str, Any]], bool, str | None]:
        """(nodes, hasNextPage, endCursor) of one connection page."""
        data = self.execute({"first": max(1, min(first, MAX_FIRST)), "after": after, **variables})
        connection = data.get(self.root)
        if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
            self.stats.add("shape_warnings")
            return [], False, None
        nodes = [n for n in connection["nodes"] if isinstance(n, dict)]
        self.stats.add("skipped_items", len(connection["nodes"]) - len(nodes))
        info = connection.get("pageInfo") if isinstance(connection.get("pageInfo"), dict) else {}
        return nodes, bool(info.get("hasNextPage")), info.get("endCursor")


class Projects(LinearResource):
    operation, root = "SyncProjects", "projects"
    selection = "id name status { name type } createdAt updatedAt lead { name }"


class WorkflowStates(LinearResource):
    operation, root = "SyncWorkflowStates", "workflowStates"
    selection = "id name type position createdAt updatedAt team { id }"


class Cycles(LinearResource):
    operation, root = "SyncCycles", "cycles"
    selection = "id number name startsAt endsAt completedAt progress createdAt updatedAt team { id }"


class Issues(LinearResource):
    operation, root = "SyncIssues", "issues"
    variables_decl = "$first: Int!, $after: String, $filter: IssueFilter"
    arguments = "first: $first, after: $after, orderBy: updatedAt, includeArchived: true, filter: $filter"
    selection = ("id identifier title description url priority dueDate createdAt updatedAt completedAt canceledAt "
                 "archivedAt project { id } team { id } state { id name type } cycle { id number name } "
                 "assignee { name } labels(first: 10) { nodes { id name } } "
                 "inverseRelations(first: 20) { nodes { type issue { id state { type } } } }")


class Organization(LinearResource):
    operation = "SyncOrganization"

    @classmethod
    def query(cls) -> str:
        return "query SyncOrganization { organization { id name urlKey } }"

    def id(self) -> str | None:
        org = self.execute({}).get("organization")
        return clip(org.get("id"), 200) if isinstance(org, dict) else None


# --- pure mapping (§5.4) ---------------------------------------------------------------------------
def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, n: int) -> str | None:
    out = clip(value, n)
    return clean_text(out) if out is not None else None


def _finite_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _base(node: Mapping[str, Any], prefix: str, workspace_id: str) -> dict[str, Any] | None:
    external_id = _text(node.get("id"), 200)
    if external_id is None:
        return None
    return {"id": f"{prefix}:{workspace_id}:{external_id}", "workspace_id": workspace_id, "external_id": external_id,
            "data": clean_json(dict(node)), "updated_at": parse_ts(node.get("updatedAt") or node.get("createdAt"))}


def to_project_row(node: Mapping[str, Any], *, workspace_id: str) -> dict[str, Any] | None:
    row = _base(node, "linproj", workspace_id)
    if row is None:
        return None
    status = node.get("status")
    state = _obj(status).get("name") if isinstance(status, dict) else node.get("state")
    return row | {"name": _text(node.get("name"), 300) or f"Project {row['external_id']}",
                  "state": _text(state, 80), "lead_name": _text(_obj(node.get("lead")).get("name"), 200)}


def to_state_row(node: Mapping[str, Any], *, workspace_id: str) -> dict[str, Any] | None:
    row = _base(node, "linstate", workspace_id)
    if row is None:
        return None
    return row | {"team_external_id": _text(_obj(node.get("team")).get("id"), 200),
                  "name": _text(node.get("name"), 300) or f"State {row['external_id']}",
                  "type": _text(node.get("type"), 120), "position": _finite_float(node.get("position"))}


def to_cycle_row(node: Mapping[str, Any], *, workspace_id: str) -> dict[str, Any] | None:
    row = _base(node, "lincycle", workspace_id)
    if row is None:
        return None
    progress = _finite_float(node.get("progress"))
    if progress is not None and abs(progress) >= 1000:  # NUM(6,3)
        progress = None
    return row | {"team_external_id": _text(_obj(node.get("team")).get("id"), 200),
                  "number": to_int(node.get("number")), "starts_at": parse_ts(node.get("startsAt")),
                  "ends_at": parse_ts(node.get("endsAt")), "completed_at": parse_ts(node.get("completedAt")),
                  "progress": Decimal(str(round(progress, 3))) if progress is not None else None}


def blocking_relations(node: Mapping[str, Any], external_id: str) -> list[dict[str, Any]]:
    """``data.blocks``: the issues blocking this one (type ``blocks`` among ``inverseRelations``)."""
    out = []
    for rel in _obj(node.get("inverseRelations")).get("nodes") or []:
        if not isinstance(rel, dict) or rel.get("type") != "blocks":
            continue
        blocker = _obj(rel.get("issue"))
        blocker_id = _text(blocker.get("id"), 200)
        if blocker_id:
            out.append({"blocker": blocker_id, "blocked": external_id,
                        "blocker_state_type": _text(_obj(blocker.get("state")).get("type"), 80)})
    return out


def to_issue_row(node: Mapping[str, Any], *, workspace_id: str) -> dict[str, Any] | None:
    row = _base(node, "linissue", workspace_id)
    if row is None:
        return None
    blocks = blocking_relations(node, row["external_id"])
    row["data"]["blocks"] = blocks
    state, cycle = _obj(node.get("state")), _obj(node.get("cycle"))
    number = to_int(cycle.get("number")) if not isinstance(cycle.get("number"), bool) else None
    labels = [_text(_first(label.get("name"), label.get("id")), 120)
              for label in _obj(node.get("labels")).get("nodes") or [] if isinstance(label, dict)]
    count = store.blocked_count(blocks, {})
    return row | {
        "identifier": _text(node.get("identifier"), 50),
        "title": _text(node.get("title"), 500) or f"Issue {row['external_id']}",
        "linear_project_external_id": _text(_obj(node.get("project")).get("id"), 200),
        "state": _text(state.get("name"), 100), "state_external_id": _text(state.get("id"), 200),
        "state_type": _text(state.get("type"), 80), "cycle_external_id": _text(cycle.get("id"), 200),
        "cycle_name": _text(cycle.get("name"), 120) or (f"Cycle {number}" if number is not None else None),
        "labels": [label for label in labels if label], "blocked_by_count": count, "blocked": count > 0,
        "priority": to_int(node.get("priority")), "assignee_name": _text(_obj(node.get("assignee")).get("name"), 200),
        "due_date": parse_date(node.get("dueDate")), "completed_at": parse_ts(node.get("completedAt")),
        "archived_at": parse_ts(node.get("archivedAt")), "vendor_created_at": parse_ts(node.get("createdAt")),
        "vendor_updated_at": parse_ts(node.get("updatedAt")),
    }


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def issue_chunk_text(row: Mapping[str, Any]) -> str | None:
    """``"{identifier} {title}"`` + description (§5.6); None for an archived issue (its chunks go)."""
    if row["archived_at"] is not None:
        return None
    head = " ".join(p for p in (row["identifier"], row["title"]) if p)
    description = clean_text(str(_obj(row["data"]).get("description") or "")).strip()
    return f"{head}\n\n{description}" if description else head


# --- the routine (§5.3, §5.5) ----------------------------------------------------------------------
ENTITIES: tuple[tuple[type[LinearResource], Any, Any, str], ...] = (
    (Projects, to_project_row, "upsert_projects", "touched_projects"),
    (WorkflowStates, to_state_row, "upsert_states", "touched_states"),
    (Cycles, to_cycle_row, "upsert_cycles", "touched_cycles"),
)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


class LinearSync:
    def __init__(self, rt: Runtime, scope: Scope, workspace_id: str, settings: LinearSettings,
                 http: VendorHttp) -> None:
        self.rt, self.scope, self.ws, self.settings, self.http = rt, scope, workspace_id, settings, http
        self.stats = RunStats()
        self.chunks = ChunkTotals()

    @property
    def source(self) -> str:
        return f"linear:{self.ws}"

    def run(self) -> dict[str, Any]:
        with self.rt.session() as s:
            previous = get_watermark(session=s, scope=self.scope, source=self.source)
        touched: dict[str, int] = {}
        truncated: list[str] = []
        for step, (resource, mapper, upsert, key) in enumerate(ENTITIES, start=1):
            touched[key], full = self.sync_entity(resource(self.http, self.stats), mapper, getattr(store, upsert))
            if not full:
                truncated.append(resource.root)
            report_progress(step, len(ENTITIES) + 1, stage=resource.root)
        scan = self.scan_issues(previous.cursor_ts, previous.meta.get("issues_scan") or {})
        if scan["issues_read"] >= self.settings.sync_limit and scan["open"]:
            truncated.append("issues")
        with self.rt.transaction() as s:
            recomputed = store.recompute_blocked(session=s, scope=self.scope)
        with self.rt.session() as s:
            mark = get_watermark(session=s, scope=self.scope, source=self.source)
        now = utcnow()
        result = {
            "source": self.source, **self.scope.to_json(),
            **{k: touched.get(k, 0) for k in ("touched_projects", "touched_states", "touched_cycles")},
            "touched_issues": scan["touched"], "issues_read": scan["issues_read"],
            "archived_issues": scan["archived"], "blocked_recomputed": recomputed,
            "truncated_entities": truncated, "issues_scan": mark.meta.get("issues_scan"),
            **self.chunks.as_meta(), **self.stats.as_dict("skipped_items", "shape_warnings"),
            **self.stats.prefixed("added_", "updated_"),
            "previous_cursor_ts": _iso(previous.cursor_ts), "cursor_ts": mark.cursor_ts, "cursor_id": mark.cursor_id,
            "page_cursor": (mark.meta.get("issues_scan") or {}).get("after"), "requests": self.http.requests_sent,
        }
        with self.rt.transaction() as s:
            meta = {k: v for k, v in result.items() if k not in ("cursor_ts", "cursor_id")}
            save_watermark(session=s, scope=self.scope, source=self.source, cursor_ts=mark.cursor_ts,
                           cursor_id=mark.cursor_id, meta=meta | {"synced_at": now.isoformat()})
        return result

    def sync_entity(self, resource: LinearResource, mapper: Any, upsert: Any) -> tuple[int, bool]:
        """Full paginated listing of one entity (≤ LINEAR_SYNC_LIMIT nodes); (touched, complete)."""
        rows: list[dict[str, Any]] = []
        after, read, more = None, 0, True
        while more and read < self.settings.sync_limit:
            nodes, more, after = resource.page(first=min(self.settings.page_size, self.settings.sync_limit - read),
                                               after=after)
            read += len(nodes)
            mapped = [r for r in (mapper(n, workspace_id=self.ws) for n in nodes) if r is not None]
            self.stats.add("skipped_items", len(nodes) - len(mapped))
            rows += mapped
            if not nodes or after is None:
                more = False
        with self.rt.transaction() as s:
            done = upsert(session=s, scope=self.scope, rows=dedupe_last(rows, key=lambda r: r["id"]))
        return len(self.stats.upserted(resource.root, done)), not more

    def scan_issues(self, cursor_ts: datetime | None, stored: Mapping[str, Any]) -> dict[str, Any]:
        """The resumable incremental issue scan (§5.5)."""
        if stored.get("after"):
            since, after, max_seen = stored.get("since"), stored["after"], parse_ts(stored.get("max_seen"))
            newest_id = stored.get("max_seen_id")
        else:
            start = cursor_ts - timedelta(seconds=self.settings.overlap_seconds) if cursor_ts else None
            since, after, max_seen, newest_id = _iso(start), None, None, None
        issues = Issues(self.http, self.stats)
        flt = {"updatedAt": {"gt": since}} if since else None
        read = touched = archived = 0
        while True:
            first = min(self.settings.page_size, self.settings.sync_limit - read)
            nodes, more, end = issues.page(first=first, after=after, filter=flt)
            read += len(nodes)
            rows = dedupe_last((r for r in (to_issue_row(n, workspace_id=self.ws) for n in nodes) if r),
                               key=lambda r: r["id"])
            self.stats.add("skipped_items", len(nodes) - len(rows))
            for row in rows:
                if row["vendor_updated_at"] and (max_seen is None or row["vendor_updated_at"] > max_seen):
                    max_seen, newest_id = row["vendor_updated_at"], row["id"]
            complete = not more or end is None
            with self.rt.transaction() as s:
                changed = self.stats.upserted("issues", store.upsert_issues(session=s, scope=self.scope, rows=rows))
                archived += sum(1 for row in rows if row["id"] in changed and row["archived_at"] is not None)
                chunk_sync(s, self.scope, self.chunks, [
                    ChunkSource(SOURCE_TYPE, SOURCE_TABLE, row["id"], issue_chunk_text(row),
                                {"source_ts": row["updated_at"]}) for row in rows if row["id"] in changed])
                self.checkpoint(s, cursor_ts, since, end, (max_seen, newest_id), complete)
            touched += len(changed)
            after = end
            report_progress(read, None, stage="issues")
            if complete or read >= self.settings.sync_limit:
                return {"touched": touched, "issues_read": read, "archived": archived, "open": not complete}

    def checkpoint(self, session: Any, cursor_ts: datetime | None, since: str | None, after: str | None,
                   seen: tuple[datetime | None, str | None], complete: bool) -> None:
        """Scan position in the page's transaction: ``meta.issues_scan`` and ``page_cursor``; a complete scan
        moves ``cursor_ts`` to the greatest ``updatedAt`` it saw (``cursor_id``: that issue)."""
        mark = get_watermark(session=session, scope=self.scope, source=self.source)
        max_seen, newest_id = seen
        cursor_id = mark.cursor_id
        if complete:
            new_cursor = max_ts([cursor_ts, max_seen])
            if max_seen is not None and new_cursor == max_seen:
                cursor_id = newest_id or cursor_id
            scan, page_cursor = None, None
        else:
            new_cursor, page_cursor = mark.cursor_ts, after
            scan = {"since": since, "after": after, "max_seen": _iso(max_seen), "max_seen_id": newest_id}
        save_watermark(session=session, scope=self.scope, source=self.source, cursor_ts=new_cursor,
                       cursor_id=cursor_id, meta={**mark.meta, "issues_scan": scan})
        connectors_svc.upsert_state(session=session, scope=self.scope, connector="linear", page_cursor=page_cursor)


def sync_linear(scope: Scope, external_id: str, state: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """The ``linear_sync`` routine (§5.3) for the bound organization ``external_id``."""
    rt = current()
    settings = LinearSettings.from_env(rt.settings.environ)
    with LinearResource.client(settings, HttpSettings.from_settings(rt.settings), vendor_limiter("linear", rt)) as http:
        return LinearSync(rt, scope, external_id, settings, http).run()


def discover(settings: Any) -> str | None:
    """Suggested binding id (§2): ``LINEAR_WORKSPACE_ID``, else ``organization.id``; None when that fails."""
    linear = LinearSettings.from_env(settings.environ)
    env_id = (settings.environ.get("LINEAR_WORKSPACE_ID") or "").strip()
    if env_id or not linear.token:
        return env_id or None
    try:
        with LinearResource.client(linear, HttpSettings.from_settings(settings)) as http:
            return Organization(http, RunStats()).id()
    except (TransientError, UpstreamClientError):
        return None
