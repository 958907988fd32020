"""Attio REST v2 emulator (spec connectors-rag §4.2, §17), served under `/attio`.

`GET /v2/self`, `POST /v2/objects/{object}/records/query` (limit, offset, sorts),
`GET /v2/objects/{object}/records/{record_id}`, `GET /v2/notes` (limit ≤ 50, offset, newest first) and
`GET /v2/notes/{note_id}` (a deleted record or note answers 404 `not_found`, as Attio does). Records and
notes are served verbatim; the builders below render values as arrays of typed entries with
`active_from` / `active_until`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from .state import EmulatorState, iso_ns, sort_time, to_datetime, utc_now

STANDARD_OBJECTS = ("companies", "people", "deals")
NOTES_MAX_LIMIT = 50

bp = Blueprint("attio", __name__, url_prefix="/attio")


# ----------------------------------------------------------------------------------------------
# Builders


def _uid(*parts: Any) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "attio:" + ":".join(map(str, parts))))


def entry(attribute_type: str, active_from: datetime, active_until: datetime | None = None,
          actor_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """One typed value entry, e.g. entry("text", t, value="Acme")."""
    return {
        "active_from": iso_ns(active_from),
        "active_until": iso_ns(active_until) if active_until else None,
        "created_by_actor": {"type": "workspace-member" if actor_id else "system", "id": actor_id},
        **fields,
        "attribute_type": attribute_type,
    }


def text(value: str, at: datetime, until: datetime | None = None) -> dict[str, Any]:
    return entry("text", at, until, value=value)


def number(value: float, at: datetime) -> dict[str, Any]:
    return entry("number", at, value=value)


def date(value: str, at: datetime) -> dict[str, Any]:
    return entry("date", at, value=value)


def currency(value: float, at: datetime, code: str = "USD") -> dict[str, Any]:
    return entry("currency", at, currency_value=value, currency_code=code)


def domain(value: str, at: datetime) -> dict[str, Any]:
    return entry("domain", at, domain=value, root_domain=".".join(value.split(".")[-2:]))


def email(address: str, at: datetime) -> dict[str, Any]:
    local, _, dom = address.partition("@")
    return entry("email-address", at, original_email_address=address, email_address=address.lower(),
                 email_domain=dom, email_root_domain=dom, email_local_specifier=local)


def personal_name(first: str, last: str, at: datetime) -> dict[str, Any]:
    return entry("personal-name", at, first_name=first, last_name=last, full_name=f"{first} {last}".strip())


def record_ref(target_object: str, target_record_id: str, at: datetime) -> dict[str, Any]:
    return entry("record-reference", at, target_object=target_object, target_record_id=target_record_id)


def status(title: str, at: datetime, until: datetime | None = None, workspace_id: str = "") -> dict[str, Any]:
    status_id = {"workspace_id": workspace_id, "object_id": _uid(workspace_id, "deals"),
                 "attribute_id": _uid(workspace_id, "stage"), "status_id": _uid(workspace_id, "status", title)}
    return entry("status", at, until, status={"id": status_id, "title": title, "is_archived": False,
                                              "target_time_in_status": None,
                                              "celebration_enabled": title.startswith("Won")})


def stage_history(stages: list[tuple[str, datetime]], workspace_id: str = "") -> list[dict[str, Any]]:
    """Status entries for successive stages: each one ends when the next begins."""
    ends = [at for _, at in stages[1:]] + [None]
    return [status(title, at, until, workspace_id) for (title, at), until in zip(stages, ends, strict=True)]


def record(object_slug: str, record_id: str, *, workspace_id: str, created_at: datetime,
           values: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "id": {"workspace_id": workspace_id, "object_id": _uid(workspace_id, object_slug), "record_id": record_id},
        "created_at": iso_ns(created_at),
        "web_url": f"https://app.attio.com/workspace/{object_slug}/{record_id}",
        "values": values,
    }


def note(note_id: str, *, workspace_id: str, parent_object: str, parent_record_id: str, title: str,
         content: str, created_at: datetime, actor_id: str | None = None) -> dict[str, Any]:
    return {
        "id": {"workspace_id": workspace_id, "note_id": note_id},
        "parent_object": parent_object,
        "parent_record_id": parent_record_id,
        "title": title,
        "meeting_id": None,
        "content_plaintext": content,
        "content_markdown": content,
        "tags": [],
        "created_by_actor": {"type": "workspace-member" if actor_id else "api-token", "id": actor_id},
        "created_at": iso_ns(created_at),
    }


# ----------------------------------------------------------------------------------------------
# Store


def _record_id(rec: dict[str, Any]) -> Any:
    rid = rec.get("id")
    return rid.get("record_id") if isinstance(rid, dict) else rid


def _note_id(item: dict[str, Any]) -> Any:
    nid = item.get("id")
    return nid.get("note_id") if isinstance(nid, dict) else nid


class AttioStore:
    def __init__(self, fixture: dict[str, Any]) -> None:
        self.token = fixture.get("token")
        self.workspace_id = fixture.get("workspace_id") or _uid("workspace")
        self.workspace_name = fixture.get("workspace_name") or "Emulated workspace"
        self.objects: dict[str, list[dict[str, Any]]] = {slug: [] for slug in STANDARD_OBJECTS}
        for slug, items in (fixture.get("objects") or {}).items():
            self.objects[slug] = list(items)
        self.notes: list[dict[str, Any]] = list(fixture.get("notes") or [])

    @classmethod
    def from_fixture(cls, fixture: dict[str, Any]) -> AttioStore:
        return cls(fixture)

    def summary(self) -> dict[str, Any]:
        return {**{slug: len(items) for slug, items in self.objects.items()}, "notes": len(self.notes)}

    def find(self, object_slug: str, record_id: str) -> dict[str, Any]:
        for rec in self.objects.get(object_slug, []):
            if _record_id(rec) == record_id:
                return rec
        raise KeyError(f"unknown {object_slug} record {record_id}")


# ----------------------------------------------------------------------------------------------
# Routes


def _state() -> EmulatorState:
    return current_app.extensions["emulator"]


TYPES = {400: "invalid_request_error", 401: "auth_error", 403: "auth_error", 404: "invalid_request_error",
         429: "rate_limit_error"}
CODES = {400: "validation_type", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         429: "rate_limit_exceeded"}


def error_response(status_code: int, message: str | None = None) -> Response:
    response = jsonify({"status_code": status_code, "type": TYPES.get(status_code, "api_error"),
                        "code": CODES.get(status_code, "internal_error"),
                        "message": message or f"Emulated error {status_code}."})
    response.status_code = status_code
    return response


def rate_limit_response(retry_after: float) -> Response:
    """429 with an HTTP-date Retry-After (Attio's documented answer)."""
    response = error_response(429, "Rate limit exceeded, please try again later")
    response.headers["Retry-After"] = retry_after_date(retry_after)
    return response


def retry_after_date(seconds: float) -> str:
    return format_datetime(utc_now().replace(microsecond=0) + timedelta(seconds=max(1.0, seconds)), usegmt=True)


def _store() -> AttioStore:
    store: AttioStore | None = _state().stores.get("attio")
    if store is None or not store.token or request.headers.get("Authorization") != f"Bearer {store.token}":
        abort(error_response(401, "Token is invalid or has been revoked."))
    return store


def _int_param(value: Any, name: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit() or int(value) < 0:
        abort(error_response(400, f"{name} must be a non-negative integer"))
    return int(value)


@bp.get("/v2/self")
def identify() -> Response:
    with _state().lock:
        store = _store()
        return jsonify({
            "active": True,
            "scope": "record_permission:read object_configuration:read note:read",
            "client_id": _uid("client", store.workspace_id),
            "token_type": "Bearer",
            "exp": None,
            "iat": 1_700_000_000,
            "sub": store.workspace_id,
            "aud": _uid("client", store.workspace_id),
            "iss": "attio.com",
            "authorized_by_workspace_member_id": _uid("member", store.workspace_id),
            "workspace_id": store.workspace_id,
            "workspace_name": store.workspace_name,
            "workspace_slug": store.workspace_name.lower().replace(" ", "-"),
            "workspace_logo_url": None,
        })


def _sort_value(rec: dict[str, Any], attribute: str) -> Any:
    if attribute == "created_at":
        return sort_time(rec.get("created_at"))
    entries = (rec.get("values") or {}).get(attribute)
    if not isinstance(entries, list) or not entries:
        return ""
    item = next((e for e in entries if isinstance(e, dict) and e.get("active_until") is None), entries[0])
    if not isinstance(item, dict):
        return str(item)
    for key in ("value", "currency_value", "domain", "email_address", "full_name", "target_record_id"):
        if item.get(key) is not None:
            return item[key]
    return (item.get("status") or item.get("option") or {}).get("title", "")


@bp.post("/v2/objects/<object_slug>/records/query")
def query_records(object_slug: str) -> Response:
    with _state().lock:
        store = _store()
        if object_slug not in store.objects:
            return error_response(404, f"Object with slug/ID \"{object_slug}\" not found.")
        body = request.get_json(silent=True)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return error_response(400, "Body must be a JSON object")
        limit = _int_param(body.get("limit"), "limit", 500)
        offset = _int_param(body.get("offset"), "offset", 0)
        items = list(store.objects[object_slug])
        for sort in reversed(body.get("sorts") or []):
            attribute = sort.get("attribute") or sort.get("path") or "created_at"
            items.sort(key=lambda r, a=attribute: (str(type(_sort_value(r, a))), _sort_value(r, a)),
                       reverse=sort.get("direction") == "desc")
        return jsonify({"data": items[offset: offset + limit]})


@bp.get("/v2/objects/<object_slug>/records/<record_id>")
def get_record(object_slug: str, record_id: str) -> Response:
    with _state().lock:
        store = _store()
        if object_slug not in store.objects:
            return error_response(404, f"Object with slug/ID \"{object_slug}\" not found.")
        try:
            return jsonify({"data": store.find(object_slug, record_id)})
        except KeyError:
            return error_response(404, f"Record with ID \"{record_id}\" not found.")


@bp.get("/v2/notes/<note_id>")
def get_note(note_id: str) -> Response:
    with _state().lock:
        found = next((n for n in _store().notes if _note_id(n) == note_id), None)
        if found is None:
            return error_response(404, f"Note with ID \"{note_id}\" not found.")
        return jsonify({"data": found})


@bp.get("/v2/notes")
def list_notes() -> Response:
    with _state().lock:
        store = _store()
        limit = _int_param(request.args.get("limit"), "limit", 10)
        offset = _int_param(request.args.get("offset"), "offset", 0)
        if limit < 1 or limit > NOTES_MAX_LIMIT:
            return error_response(400, f"limit must be between 1 and {NOTES_MAX_LIMIT}")
        items = [n for n in store.notes
                 if request.args.get("parent_object") in (None, n.get("parent_object"))
                 and request.args.get("parent_record_id") in (None, n.get("parent_record_id"))]
        items.sort(key=lambda n: sort_time(n.get("created_at")), reverse=True)
        return jsonify({"data": items[offset: offset + limit]})


# ----------------------------------------------------------------------------------------------
# Mutations


def mutate(store: AttioStore, op: dict[str, Any]) -> dict[str, Any]:
    """Ops: add_record, update_record, delete_record, add_note, update_note, delete_note.

    update_record `values`: a list replaces the attribute's entries; a single entry (or a scalar, taken
    as a text value) closes the active entries at `at` and appends a new one active from `at`, which is
    how Attio keeps stage history.
    """
    at = to_datetime(op.get("at")) or utc_now()
    name = op["op"]
    if name == "add_record":
        store.objects.setdefault(op["object"], []).append(op["record"])
        return op["record"]
    if name in ("update_record", "delete_record"):
        rec = store.find(op["object"], op["record_id"])
        if name == "delete_record":
            store.objects[op["object"]].remove(rec)
            return {"deleted": op["record_id"]}
        values = rec.setdefault("values", {})
        for slug, new in (op.get("values") or {}).items():
            if isinstance(new, list):
                values[slug] = new
                continue
            new_entry = new if isinstance(new, dict) else text(str(new), at)
            new_entry = {**new_entry, "active_from": iso_ns(at), "active_until": None}
            for old in values.get(slug) or []:
                if isinstance(old, dict) and old.get("active_until") is None:
                    old["active_until"] = iso_ns(at)
            values[slug] = [*(values.get(slug) or []), new_entry]
        return rec
    if name == "add_note":
        store.notes.append(op["note"])
        return op["note"]
    found = next((n for n in store.notes if _note_id(n) == op["note_id"]), None)
    if found is None:
        raise KeyError(f"unknown note {op['note_id']}")
    if name == "update_note":
        found.update(op.get("set") or {})
        return found
    if name == "delete_note":
        store.notes.remove(found)
        return {"deleted": op["note_id"]}
    raise ValueError(f"unknown attio op {name!r}")
