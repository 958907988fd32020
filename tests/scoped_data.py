"""Data of one project, for the scope-isolation walk and the fuzzer: seed it through the API, list its ids.

Nothing here names a route or a table by hand beyond a few well-formed bodies for the core domains: the
scoped tables come from the SQLAlchemy metadata (every model with ``project_id``), the routes from the
registry, so new domains are covered as soon as their models and routes exist.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Table, inspect, select

MARKER = "scope-marker-7f3c"  # put into seeded text fields: it must never show up in another project's answers
IDS_PER_TABLE = 3

# Well-formed bodies for the core create routes (method, path, body); later ones may use ids of earlier answers.
SEEDS: tuple[tuple[str, str, Callable[[dict[str, Any]], dict[str, Any]]], ...] = (
    ("POST", "/crm/accounts", lambda got: {"name": f"Account {MARKER}", "domain": "alpha.example"}),
    ("POST", "/crm/opportunities", lambda got: {
        "title": f"Deal {MARKER}", "account_id": got.get("account_id"), "next_step": "call the client",
        "amount_estimate": 1200, "probability": 0.4}),
    ("POST", "/offers", lambda got: {"title": f"Offer {MARKER}", "subtotal": 1000, "discount_pct": 5,
                                     "account_id": got.get("account_id"), "opportunity_id": got.get("opportunity_id")}),
    ("POST", "/outbound/draft", lambda got: {"channel": "email", "recipient_ref": f"client@{MARKER}.example",
                                             "idempotency_key": f"key-{uuid.uuid4().hex}",
                                             "payload": {"subject": MARKER, "text": MARKER}}),
    ("POST", "/outbound/opt-out", lambda got: {"contact_global_id": f"contact-{MARKER}", "channel": "email",
                                               "opted_out": False}),
    ("POST", "/connectors/bindings", lambda got: {"connector": "chatwoot", "external_id": f"{MARKER}-1"}),
)
# Bodies that get past validation on id routes whose declared schema does not say which values are valid
# (the scope walk tries ``{}`` and a schema-shaped body first; add a route here when neither reaches its lookup).
ID_ROUTE_BODIES: dict[str, list[dict[str, Any]]] = {
    "POST /upsell/<upsell_id>/status": [{"status": "accepted"}],
}
# Keys of a created object's id in a route's answer, stored for the next seeds.
ANSWER_IDS = {"/crm/accounts": ("account", "account_id"), "/crm/opportunities": ("opportunity", "opportunity_id"),
              "/offers": ("offer", "offer_id"), "/outbound/draft": ("outbound", "outbound_id")}


def seed_project(post: Callable[[str, dict[str, Any]], tuple[int, Any]],
                 extra_posts: list[str] | None = None) -> dict[str, Any]:
    """Create data in the active project through the API. ``post(path, body) -> (status, json)``.

    The known bodies first, then ``{}`` to every other body-less POST route given in ``extra_posts`` (job
    triggers and the like create ``job_runs`` rows). Routes that do not exist (yet) are skipped.
    """
    got: dict[str, Any] = {}
    for _, path, body in SEEDS:
        status, answer = post(path, body(got))
        if status in (200, 201) and path in ANSWER_IDS and isinstance(answer, dict):
            key, name = ANSWER_IDS[path]
            if isinstance(answer.get(key), dict):
                got[name] = answer[key].get("id")
    for path in extra_posts or []:
        post(path, {})
    return got


def scoped_tables(engine: Engine) -> list[Table]:
    """Every table of the metadata that carries ``project_id`` and exists in this database."""
    import shared.db.models  # noqa: F401 - registers every model
    from shared.db.base import Base

    existing = set(inspect(engine).get_table_names())
    return [t for t in Base.metadata.sorted_tables if "project_id" in t.c and t.name in existing]


def _id_text(value: Any) -> str:
    return str(value)


def ids_by_table(engine: Engine, project_id: str, per_table: int = IDS_PER_TABLE) -> dict[str, list[str]]:
    """A few primary-key values per scoped table (single-column keys only), as the API spells them."""
    out: dict[str, list[str]] = {}
    pid = uuid.UUID(str(project_id))
    with engine.connect() as conn:
        for table in scoped_tables(engine):
            pk = list(table.primary_key.columns)
            if len(pk) != 1:
                continue
            rows = conn.execute(select(pk[0]).where(table.c.project_id == pid).limit(per_table)).scalars().all()
            if rows:
                out[table.name] = [_id_text(v) for v in rows]
    return out


def id_kind(value: str) -> str:
    try:
        uuid.UUID(value)
        return "uuid"
    except ValueError:
        pass
    return "int" if value.isdigit() else "str"


def id_pool(by_table: dict[str, list[str]]) -> dict[str, list[str]]:
    pool: dict[str, list[str]] = {"uuid": [], "int": [], "str": []}
    for values in by_table.values():
        for v in values:
            pool[id_kind(v)].append(v)
    return pool


def fingerprint(engine: Engine, project_id: str) -> dict[str, str]:
    """A digest of every row of the project in every scoped table: equal before and after means untouched."""
    pid = uuid.UUID(str(project_id))
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for table in scoped_tables(engine):
            rows = conn.execute(select(table).where(table.c.project_id == pid)).mappings().all()
            text = json.dumps(sorted(json.dumps(dict(r), default=str, sort_keys=True) for r in rows))
            out[table.name] = hashlib.sha256(text.encode()).hexdigest()
    return out


def leaked_markers(text: str, project_id: str, by_table: dict[str, list[str]]) -> list[str]:
    """Which of the project's identifying strings (its id, uuid row ids, the seed marker) appear in ``text``."""
    needles = {str(project_id), MARKER}
    needles |= {v for values in by_table.values() for v in values if id_kind(v) == "uuid"}
    return sorted(n for n in needles if n in text)
