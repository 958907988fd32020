"""Linear GraphQL emulator (spec connectors-rag §5.2, §17), served at `/linear/graphql`.

The query is parsed with graphql-core; the operation must be one of `OPERATIONS`. Root fields are
resolved from the store (`organization`, or a Relay connection over `projects`, `workflowStates`,
`cycles`, `issues`, `teams`) and the answer is cut down to the requested selection, as a real server
would. Connections: `first` (default 50, > 250 → error), opaque base64 `after` cursors, `orderBy`
(`createdAt` default, or `updatedAt`; newest first), `includeArchived` (default false), `filter`
(comparators `eq neq gt gte lt lte in nin null`, nested fields, `and`/`or`).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    parse,
)
from graphql.utilities import value_from_ast_untyped

from .state import EmulatorState, iso_ms, sort_time, to_datetime, utc_now

OPERATIONS = ("SyncOrganization", "SyncProjects", "SyncWorkflowStates", "SyncCycles", "SyncIssues")
ENTITIES = ("projects", "workflowStates", "cycles", "issues", "teams")
MAX_FIRST, DEFAULT_FIRST = 250, 50
RATE_LIMIT = 1500

bp = Blueprint("linear", __name__, url_prefix="/linear")


class QueryError(Exception):
    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


# ----------------------------------------------------------------------------------------------
# Builders


def organization(org_id: str, name: str, url_key: str) -> dict[str, Any]:
    return {"id": org_id, "name": name, "urlKey": url_key}


def workflow_state(state_id: str, name: str, state_type: str, position: float, team_id: str,
                   created_at: str) -> dict[str, Any]:
    return {"id": state_id, "name": name, "type": state_type, "position": position, "createdAt": created_at,
            "updatedAt": created_at, "archivedAt": None, "team": {"id": team_id}}


def issue(issue_id: str, identifier: str, title: str, *, team_id: str, state: dict[str, Any],
          created_at: str, updated_at: str, url_key: str = "workspace", **fields: Any) -> dict[str, Any]:
    """An issue node; `fields` override the defaults (description, priority, project, cycle, labels …).

    `blocked_by=[issue ids]` becomes `inverseRelations` of type `blocks`; the blocker's state is read
    from the store when the issue is served.
    """
    blocked_by = fields.pop("blocked_by", [])
    node = {
        "id": issue_id, "identifier": identifier, "title": title, "description": None,
        "url": f"https://linear.app/{url_key}/issue/{identifier}", "priority": 0, "dueDate": None,
        "createdAt": created_at, "updatedAt": updated_at, "completedAt": None, "canceledAt": None,
        "archivedAt": None, "project": None, "team": {"id": team_id},
        "state": {"id": state["id"], "name": state.get("name"), "type": state.get("type")},
        "cycle": None, "assignee": None, "labels": {"nodes": []},
        "inverseRelations": {"nodes": [{"id": f"rel-{b}-{issue_id}", "type": "blocks", "issue": {"id": b}}
                                       for b in blocked_by]},
    }
    node.update(fields)
    return node


# ----------------------------------------------------------------------------------------------
# Store


class LinearStore:
    def __init__(self, fixture: dict[str, Any]) -> None:
        self.token = fixture.get("token")
        self.organization = fixture.get("organization") or organization("org-emulated", "Emulated", "emulated")
        self.entities: dict[str, list[dict[str, Any]]] = {e: list(fixture.get(e) or []) for e in ENTITIES}

    @classmethod
    def from_fixture(cls, fixture: dict[str, Any]) -> LinearStore:
        return cls(fixture)

    def summary(self) -> dict[str, int]:
        return {e: len(items) for e, items in self.entities.items()}

    def index(self) -> dict[str, dict[str, Any]]:
        return {n.get("id"): n for items in self.entities.values() for n in items if isinstance(n, dict)}

    def find(self, entity: str, node_id: str) -> dict[str, Any]:
        for node in self.entities.get(entity, []):
            if node.get("id") == node_id:
                return node
        raise KeyError(f"unknown {entity} node {node_id}")


REFS = ("state", "cycle", "project", "team")
NESTED = ("labels", "inverseRelations", "relations", "children")


def _resolve_refs(node: dict[str, Any], index: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{"id": …} references → the current stored node (the store wins over stale copies)."""
    out = dict(node)
    for key in REFS:
        ref = out.get(key)
        if isinstance(ref, dict) and ref.get("id") in index:
            out[key] = {**ref, **index[ref["id"]]}
    return out


def _render(node: dict[str, Any], index: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A served node: references resolved, nested lists shaped as connections."""
    out = _resolve_refs(node, index)
    for key in NESTED:
        value = out.get(key)
        if isinstance(value, list):
            value = {"nodes": value}
        if isinstance(value, dict):
            nodes = value.get("nodes") or []
            if key.endswith("elations"):
                nodes = [_render_relation(n, index) for n in nodes]
            out[key] = {**value, "nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}
    return out


def _render_relation(rel: dict[str, Any], index: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out = dict(rel)
    for key in ("issue", "relatedIssue"):
        ref = out.get(key)
        if isinstance(ref, dict) and ref.get("id") in index:
            out[key] = _resolve_refs({**ref, **index[ref["id"]]}, index)
    return out


# ----------------------------------------------------------------------------------------------
# Connections


def encode_cursor(node: dict[str, Any], order: str) -> str:
    raw = json.dumps([sort_time(node.get(order)), str(node.get("id"))])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        key, node_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return float(key), str(node_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise QueryError(f"Invalid cursor: {cursor}", "INVALID_INPUT") from exc


def _compare(op: str, value: Any, target: Any) -> bool:
    if op in ("in", "nin"):
        return (value in (target or [])) == (op == "in")
    if op == "null":
        return (value is None) == bool(target)
    if value is None:
        return op == "neq" and target is not None
    left, right = to_datetime(value), to_datetime(target)
    if not (isinstance(value, str) and left and right):
        left, right = value, target
    try:
        return {"eq": left == right, "neq": left != right, "gt": left > right, "gte": left >= right,
                "lt": left < right, "lte": left <= right}[op]
    except TypeError:
        return False


def matches(value: Any, flt: dict[str, Any]) -> bool:
    for key, cond in flt.items():
        if cond is None:
            continue
        if key == "and":
            ok = all(matches(value, f) for f in cond)
        elif key == "or":
            ok = any(matches(value, f) for f in cond)
        elif key in ("eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "null"):
            ok = _compare(key, value, cond)
        else:
            child = value.get(key) if isinstance(value, dict) else None
            ok = matches(child, cond) if isinstance(cond, dict) else child == cond
        if not ok:
            return False
    return True


def connection(store: LinearStore, entity: str, args: dict[str, Any]) -> dict[str, Any]:
    first = args.get("first")
    first = DEFAULT_FIRST if first is None else first
    if not isinstance(first, int) or first < 0 or first > MAX_FIRST:
        raise QueryError(f"Argument Validation Error: first must be between 0 and {MAX_FIRST}.", "INVALID_INPUT")
    order = args.get("orderBy") or "createdAt"
    if order not in ("createdAt", "updatedAt"):
        raise QueryError(f"Invalid orderBy value {order!r}.", "INVALID_INPUT")
    items = store.entities[entity]
    if not args.get("includeArchived"):
        items = [n for n in items if not n.get("archivedAt")]
    if isinstance(args.get("filter"), dict):
        items = [n for n in items if matches(n, args["filter"])]
    items = sorted(items, key=lambda n: (sort_time(n.get(order)), str(n.get("id"))), reverse=True)
    if args.get("after"):
        cursor = _decode_cursor(args["after"])
        items = [n for n in items if (sort_time(n.get(order)), str(n.get("id"))) < cursor]
    page = items[:first]
    index = store.index()
    nodes = [_render(n, index) for n in page]
    cursors = [encode_cursor(n, order) for n in page]
    return {
        "nodes": nodes,
        "edges": [{"node": n, "cursor": c} for n, c in zip(nodes, cursors, strict=True)],
        "pageInfo": {"hasNextPage": len(items) > first, "hasPreviousPage": bool(args.get("after")),
                     "startCursor": cursors[0] if cursors else None,
                     "endCursor": cursors[-1] if cursors else None},
    }


# ----------------------------------------------------------------------------------------------
# GraphQL execution (selection projection, no schema)


class Execution:
    def __init__(self, store: LinearStore, query: str, operation_name: str | None, variables: dict[str, Any]):
        try:
            document = parse(query)
        except GraphQLError as exc:
            raise QueryError(exc.message, "GRAPHQL_PARSE_FAILED") from exc
        self.store, self.variables = store, variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is None and len(ops) == 1 and ops[0].name:
            operation_name = ops[0].name.value
        self.operation = next((o for o in ops if o.name and o.name.value == operation_name), None)
        if operation_name not in OPERATIONS or self.operation is None:
            raise QueryError(f'Unknown operation named "{operation_name}".', "GRAPHQL_VALIDATION_FAILED")

    def args(self, field: FieldNode) -> dict[str, Any]:
        out = {}
        for arg in field.arguments or ():
            value = value_from_ast_untyped(arg.value, self.variables)
            out[arg.name.value] = None if value is Undefined else value
        return out

    def run(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field in self.fields(self.operation.selection_set):
            name = field.name.value
            if name == "organization":
                value: Any = self.store.organization
            elif name in ENTITIES:
                value = connection(self.store, name, self.args(field))
            else:
                raise QueryError(f'Cannot query field "{name}" on type "Query".', "GRAPHQL_VALIDATION_FAILED")
            data[field.alias.value if field.alias else name] = self.project(value, field.selection_set)
        return data

    def fields(self, selection_set: SelectionSetNode) -> list[FieldNode]:
        out: list[FieldNode] = []
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                out.append(sel)
            elif isinstance(sel, InlineFragmentNode):
                out.extend(self.fields(sel.selection_set))
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value in self.fragments:
                out.extend(self.fields(self.fragments[sel.name.value].selection_set))
        return out

    def project(self, value: Any, selection_set: SelectionSetNode | None) -> Any:
        if selection_set is None or value is None:
            return value
        if isinstance(value, list):
            return [self.project(v, selection_set) for v in value]
        if not isinstance(value, dict):
            return None
        out = {}
        for field in self.fields(selection_set):
            child = value.get(field.name.value)
            first = self.args(field).get("first")
            if isinstance(child, dict) and isinstance(child.get("nodes"), list) and isinstance(first, int):
                more = len(child["nodes"]) > first
                child = {**child, "nodes": child["nodes"][:first],
                         "pageInfo": {**child.get("pageInfo", {}), "hasNextPage": more}}
            out[field.alias.value if field.alias else field.name.value] = self.project(child, field.selection_set)
        return out


# ----------------------------------------------------------------------------------------------
# Routes


def _state() -> EmulatorState:
    return current_app.extensions["emulator"]


def _errors(message: str, code: str, status: int, **headers: str) -> Response:
    response = jsonify({"data": None, "errors": [{
        "message": message,
        "extensions": {"code": code, "type": code.lower().replace("_", " "), "userError": True,
                       "userPresentableMessage": message, "statusCode": status},
    }]})
    response.status_code = status
    response.headers.update(headers)
    return response


def error_response(status: int, message: str | None = None) -> Response:
    code = {400: "INVALID_INPUT", 401: "AUTHENTICATION_ERROR", 403: "FORBIDDEN"}.get(status, "INTERNAL_ERROR")
    return _errors(message or f"Emulated error {status}", code, status)


def rate_limit_response(retry_after: float) -> Response:
    """Linear's rate limit: HTTP 400, extensions.code RATELIMITED, reset as epoch milliseconds."""
    reset_ms = int((time.time() + retry_after) * 1000)
    return _errors("Rate limit exceeded", "RATELIMITED", 400, **{
        "X-RateLimit-Requests-Limit": str(RATE_LIMIT), "X-RateLimit-Requests-Remaining": "0",
        "X-RateLimit-Requests-Reset": str(reset_ms)})


@bp.post("/graphql")
def graphql_endpoint() -> Response:
    state = _state()
    with state.lock:
        store: LinearStore | None = state.stores.get("linear")
        if store is None or not store.token or request.headers.get("Authorization") != store.token:
            return error_response(401, "Authentication required, not authenticated")
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return error_response(400, "Body must be a JSON object with a query string")
        try:
            execution = Execution(store, body["query"], body.get("operationName"), body.get("variables") or {})
            data = execution.run()
        except QueryError as exc:
            return _errors(str(exc), exc.code, exc.status)
        response = jsonify({"data": data})
        reset_ms = int((time.time() + 3600) * 1000)
        response.headers.update({"X-RateLimit-Requests-Limit": str(RATE_LIMIT),
                                 "X-RateLimit-Requests-Remaining": str(RATE_LIMIT - 1),
                                 "X-RateLimit-Requests-Reset": str(reset_ms)})
        return response


# ----------------------------------------------------------------------------------------------
# Mutations


def mutate(store: LinearStore, op: dict[str, Any]) -> dict[str, Any]:
    """Ops on any entity (default `issues`): add {node}, update {id, set}, archive {id}, unarchive {id},
    delete {id}. Every change stamps `updatedAt` with `at` (default now) unless `"bump": false`."""
    at = iso_ms(to_datetime(op.get("at")) or utc_now())
    entity = op.get("entity", "issues")
    if entity not in ENTITIES:
        raise ValueError(f"unknown linear entity {entity!r}")
    name = op["op"]
    if name == "add":
        node = dict(op["node"])
        node.setdefault("createdAt", at)
        node.setdefault("updatedAt", at)
        store.entities[entity].append(node)
        return node
    node = store.find(entity, op["id"])
    if name == "delete":
        store.entities[entity].remove(node)
        return {"deleted": op["id"]}
    changes = {"update": op.get("set") or {}, "archive": {"archivedAt": at}, "unarchive": {"archivedAt": None}}
    if name not in changes:
        raise ValueError(f"unknown linear op {name!r}")
    node.update(changes[name])
    if op.get("bump", True):
        node["updatedAt"] = at
    return node
