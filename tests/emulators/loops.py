"""Loops emulator (business.md §B5) at ``/loops/api/v1``, following Loops' documented contacts API.

Fixture ``{"key": "loops-secret" | "", "contacts": [{"email": ..., "firstName": ...}, ...]}``. An empty
key disables the Bearer check.

* ``POST /contacts/create``: 200 ``{"success": true, "id"}``; a contact with the same email (case-
  insensitive) → 409 ``{"success": false, "message": "Email or userId is already on list."}``; a missing
  or malformed email → 400.
* ``PUT /contacts/update``: updates the contact by email, creating it when missing (as Loops does):
  200 ``{"success": true, "id"}``.
* ``GET /contacts/find?email=``: ``[contact]`` or ``[]``.
* ``GET /api-key``: 200 ``{"success": true, "teamName"}`` (key check).
* A wrong key → 401 ``{"success": false, "message": "Invalid API key"}``.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .state import EmulatorState

bp = Blueprint("loops", __name__, url_prefix="/loops/api/v1")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class LoopsStore:
    def __init__(self, fixture: dict[str, Any]) -> None:
        self.key: str = fixture.get("key") or ""
        self.contacts: dict[str, dict[str, Any]] = {}
        for contact in fixture.get("contacts") or []:
            email = str(contact["email"]).strip().lower()
            self.contacts[email] = {"id": contact.get("id") or uuid.uuid4().hex, **contact, "email": email}

    @classmethod
    def from_fixture(cls, fixture: dict[str, Any]) -> LoopsStore:
        return cls(fixture)

    def summary(self) -> dict[str, Any]:
        return {"contacts": len(self.contacts), "auth": bool(self.key)}


def _state() -> EmulatorState:
    return current_app.extensions["emulator"]


def _store() -> LoopsStore:
    state = _state()
    with state.lock:
        store = state.stores.get("loops")
        if store is None:
            store = state.stores["loops"] = LoopsStore({})
        return store


def error_response(status: int, message: str | None = None) -> Response:
    response = jsonify({"success": False, "message": message or f"Emulated error {status}"})
    response.status_code = status
    return response


def rate_limit_response(retry_after: float) -> Response:
    response = error_response(429, "Rate limit exceeded.")
    response.headers["Retry-After"] = str(math.ceil(retry_after))
    response.headers["x-ratelimit-limit"] = "10"
    response.headers["x-ratelimit-remaining"] = "0"
    return response


def _authorized(store: LoopsStore) -> bool:
    return not store.key or request.headers.get("Authorization") == f"Bearer {store.key}"


def _contact_body() -> tuple[dict[str, Any] | None, Response | None]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, error_response(400, "Invalid request body.")
    email = body.get("email")
    if not isinstance(email, str) or not _EMAIL.match(email.strip()):
        return None, error_response(400, "Invalid email address.")
    return body, None


@bp.post("/contacts/create")
def create_contact() -> Response:
    store = _store()
    if not _authorized(store):
        return error_response(401, "Invalid API key")
    body, problem = _contact_body()
    if problem is not None:
        return problem
    email = body["email"].strip().lower()
    with _state().lock:
        if email in store.contacts:
            return error_response(409, "Email or userId is already on list.")
        contact = {**body, "email": email, "id": uuid.uuid4().hex}
        store.contacts[email] = contact
    return jsonify({"success": True, "id": contact["id"]})


@bp.put("/contacts/update")
def update_contact() -> Response:
    store = _store()
    if not _authorized(store):
        return error_response(401, "Invalid API key")
    body, problem = _contact_body()
    if problem is not None:
        return problem
    email = body["email"].strip().lower()
    with _state().lock:
        current = store.contacts.get(email) or {"id": uuid.uuid4().hex}
        contact = {**current, **body, "email": email}
        store.contacts[email] = contact
    return jsonify({"success": True, "id": contact["id"]})


@bp.get("/contacts/find")
def find_contact() -> Response:
    store = _store()
    if not _authorized(store):
        return error_response(401, "Invalid API key")
    email = (request.args.get("email") or "").strip().lower()
    with _state().lock:
        found = store.contacts.get(email)
    return jsonify([found] if found else [])


@bp.get("/api-key")
def api_key() -> Response:
    store = _store()
    if not _authorized(store):
        return error_response(401, "Invalid API key")
    return jsonify({"success": True, "teamName": "Emulated team"})
