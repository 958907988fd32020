"""Attio connector (connectors-rag §4): companies, deals, people and notes of the bound workspace.

``sync_attio`` is the routine ``jobs.connectors.sync.run_sync`` calls. Records come from
``POST /v2/objects/{object}/records/query`` with limit/offset, sorted by ``created_at`` so offsets stay
stable while records are added; a rolling scan (offsets kept in the watermark) covers the whole
workspace over successive runs. Values are arrays of typed, time-versioned entries: the active entry
gives the column, the whole history stays in ``data`` (stage history, amounts, dates).

Deletions upstream (§16: raw rows are kept, never hard-deleted). Attio lists only live records, so a
deletion shows as absence. Each listing (companies, deals, people; notes when one run reads them to the
end) is read in cycles: cycle ``cycles_completed[x] + 1`` is in progress and every row it returns is
stamped ``seen_cycle`` = that number with ``deleted_at`` cleared (a record that comes back is live again,
counted ``restored_<listing>``). When a cycle completes (a short page; not a malformed one, and only a
cycle that began at offset 0 under this scheme), the live rows of this project and workspace it did not
return are asked for one by one (``GET /v2/objects/{object}/records/{id}``, ``GET /v2/notes/{id}``, at
most ``ATTIO_SYNC_LIMIT`` per listing and run): a 404 is a deletion, a record still there was only
skipped because deletions shifted the offsets under the rolling scan and is written as read. The 404
rows get ``deleted_at = now`` in the transaction that saves the completed cycle in the watermark,
counted ``deleted_<listing>`` and ``deleted`` (total); a deleted note loses its chunks. A re-run or a
retried job marks nothing twice (only rows still live and unseen are marked).

CRM mirror and deletions: the mirror is fed only by this run's rows, which the vendor returned and so
are never deleted; a deal attached to a company marked deleted upstream is not mirrored either
(``crm_mirror_skipped_deleted``). CRM rows mirrored earlier from a record since deleted are left as
they are, neither deleted nor changed: they belong to the business layer (users edit them, stage events
and offers point at them); they simply stop being refreshed and are never recreated, and
``attio_*_raw.deleted_at`` (joined on ``external_ref``) tells which they are.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from sqlalchemy.orm import Session

from jobs.connectors.common import ChunkTotals, RunStats, chunk_sync, dedupe_latest, max_ts, records_at
from jobs.context import report_progress
from shared.db.service import attio as store
from shared.db.service.chunk_batches import ChunkSource
from shared.db.service.watermarks import get_watermark, save_watermark
from shared.errors import TransientError, UpstreamClientError
from shared.http import HttpSettings, VendorHttp, vendor_limiter
from shared.normalize import clean_json, clean_text, clip, env_int, parse_date, parse_ts
from shared.runtime import Runtime, current
from shared.scope import Scope
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

AMOUNT_LIMIT = Decimal("1e12")  # NUM(14,2)
DEFAULT_PROBABILITY = Decimal("0.1")
SOURCE_TYPE, SOURCE_TABLE = "attio_note", "attio_activities_raw"
T = TypeVar("T")


# --- configuration (§4.1) ------------------------------------------------------------------------
@dataclass(frozen=True)
class AttioSettings:
    base_url: str = "https://api.attio.com"
    token: str = ""
    sync_limit: int = 200
    page_size: int = 100
    notes_page_size: int = 50
    note_max_chars: int = 20_000
    close_date_attributes: tuple[str, ...] = ("expected_close_date", "close_date")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AttioSettings:
        close = tuple(a.strip() for a in (env.get("ATTIO_DEAL_CLOSE_DATE_ATTRIBUTES") or "").split(",") if a.strip())
        return cls(
            base_url=((env.get("ATTIO_BASE_URL") or "").strip() or cls.base_url).rstrip("/"),
            token=(env.get("ATTIO_API_TOKEN") or "").strip(),
            sync_limit=env_int("ATTIO_SYNC_LIMIT", 200, 1, 1000, env),
            page_size=env_int("ATTIO_PAGE_SIZE", 100, 1, 500, env),
            notes_page_size=env_int("ATTIO_NOTES_PAGE_SIZE", 50, 1, 50, env),
            note_max_chars=env_int("ATTIO_NOTE_MAX_CHARS", 20_000, 1000, 200_000, env),
            close_date_attributes=close or cls.close_date_attributes,
        )


# --- vendor base and resources (§4.2) --------------------------------------------------------------
class AttioResource:
    """Attio REST v2: bearer auth, arrays at ``data`` (tolerated at ``results`` / ``items``)."""

    name: ClassVar[str]
    records_paths: ClassVar[tuple[tuple[str, ...], ...]] = (("data",), ("results",), ("items",))

    def __init__(self, http: VendorHttp, stats: RunStats) -> None:
        self.http, self.stats = http, stats

    @staticmethod
    def client(settings: AttioSettings, http_settings: HttpSettings, limiter: Any = None) -> VendorHttp:
        headers = {"Authorization": f"Bearer {settings.token}", "Accept": "application/json"}
        return VendorHttp("attio", settings.base_url, headers=headers, settings=http_settings, limiter=limiter)

    def path_of(self, external_id: str) -> str:
        raise NotImplementedError

    def fetch(self, external_id: str) -> dict[str, Any] | None:
        """One record or note by id (the deletion check, §16): None when the vendor answers 404; an
        answer without a record at ``data`` is ``{}`` (a shape warning: neither gone nor alive)."""
        try:
            payload = self.http.get(self.path_of(external_id))
        except UpstreamClientError as exc:
            if exc.error_kind == "not_found":
                return None
            raise
        item = payload.get("data") if isinstance(payload, Mapping) else None
        if not isinstance(item, dict):
            self.stats.add("shape_warnings")
            return {}
        return item

    def records(self, payload: Any) -> list[dict[str, Any]]:
        items = records_at(payload, self.records_paths)
        if items is None:
            self.stats.add("shape_warnings")
            return []
        good = [item for item in items if isinstance(item, dict)]
        self.stats.add("skipped_items", len(items) - len(good))
        return good


class AttioObject(AttioResource):
    """``POST /v2/objects/{object}/records/query`` with limit/offset, oldest first."""

    object_slug: ClassVar[str]

    def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int | None]:
        """(usable records, raw item count) of one page; the raw count decides "short page" (None: the
        payload had no list, a shape warning that also ends the listing, §16)."""
        body = {"limit": limit, "offset": offset, "sorts": [{"attribute": "created_at", "direction": "asc"}]}
        payload = self.http.post(f"/v2/objects/{self.object_slug}/records/query", body)
        raw = records_at(payload, self.records_paths)
        return self.records(payload), len(raw) if raw is not None else None

    def path_of(self, external_id: str) -> str:
        return f"/v2/objects/{self.object_slug}/records/{quote(external_id, safe='')}"


class Companies(AttioObject):
    name = object_slug = "companies"


class Deals(AttioObject):
    name = object_slug = "deals"


class People(AttioObject):
    name = object_slug = "people"


class Notes(AttioResource):
    name = "notes"

    def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int | None]:
        payload = self.http.get("/v2/notes", {"limit": limit, "offset": offset})
        raw = records_at(payload, self.records_paths)
        return self.records(payload), len(raw) if raw is not None else None

    def path_of(self, external_id: str) -> str:
        return f"/v2/notes/{quote(external_id, safe='')}"


def discover_workspace_id(http: VendorHttp) -> str | None:
    """A0: ``GET /v2/self`` → ``workspace_id`` of an active token (binding discovery, §2)."""
    payload = http.get("/v2/self")
    if payload.get("active") is False:
        return None
    return clip(payload.get("workspace_id"), 200)


# --- pure mapping (§4.4) ---------------------------------------------------------------------------
def _entry(record: Mapping[str, Any], slug: str) -> Any:
    values = record.get("values")
    if not isinstance(values, Mapping) or slug not in values:
        return None
    entries = values[slug]
    if not isinstance(entries, list):
        return {"value": entries}  # a scalar is taken as the value itself
    if not entries:
        return None
    active = [e for e in entries if isinstance(e, Mapping) and e.get("active_until") is None]
    return active[0] if active else entries[0]


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def attio_value(record: Mapping[str, Any], slug: str) -> Any:
    """The current value of one attribute, read by its ``attribute_type`` (§4.4 table)."""
    entry = _entry(record, slug)
    if not isinstance(entry, Mapping):
        return entry
    kind = entry.get("attribute_type")
    if kind == "currency":
        return entry.get("currency_value")
    if kind == "domain":
        return _first(entry.get("domain"), entry.get("root_domain"))
    if kind == "email-address":
        return _first(entry.get("email_address"), entry.get("original_email_address"))
    if kind == "personal-name":
        full = entry.get("full_name")
        if full:
            return full
        return " ".join(str(p) for p in (entry.get("first_name"), entry.get("last_name")) if p).strip() or None
    if kind == "status":
        status = entry.get("status")
        return status.get("title") if isinstance(status, Mapping) else None
    if kind == "select":
        option = entry.get("option")
        return option.get("title") if isinstance(option, Mapping) else None
    if kind == "record-reference":
        return entry.get("target_record_id")
    if kind == "actor-reference":
        return entry.get("referenced_actor_id")
    return entry.get("value")


def first_value(record: Mapping[str, Any], *slugs: str) -> Any:
    """``attio_value(a) or attio_value(b) or …`` (slugs tried left to right)."""
    for slug in slugs:
        value = attio_value(record, slug)
        if value:
            return value
    return None


def record_id(record: Mapping[str, Any]) -> str | None:
    rid = record.get("id")
    if isinstance(rid, Mapping):
        rid = rid.get("record_id")
    return clip(rid, 200)


def record_updated_at(record: Mapping[str, Any]) -> datetime | None:
    """The greatest ``active_from`` of any entry of any attribute, else ``created_at``."""
    stamps = []
    values = record.get("values")
    if isinstance(values, Mapping):
        for entries in values.values():
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, Mapping):
                    stamps.append(parse_ts(entry.get("active_from")))
    return max_ts(stamps) or parse_ts(record.get("created_at"))


def to_decimal(value: Any) -> Decimal | None:
    """A finite number (numeric strings accepted), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def to_amount(value: Any) -> Decimal:
    """Finite number rounded to 2 decimals, else 0 (out of the column's range → 0)."""
    number = to_decimal(value)
    if number is None or abs(number) >= AMOUNT_LIMIT:
        return Decimal("0.00")
    return number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def to_probability(value: Any) -> Decimal:
    number = to_decimal(value)
    if number is None:
        return DEFAULT_PROBABILITY
    return min(Decimal(1), max(Decimal(0), number)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _text(value: Any, n: int) -> str | None:
    out = clip(value, n)
    return clean_text(out) if out is not None else None


def _base(record: Mapping[str, Any], prefix: str, workspace_id: str) -> dict[str, Any] | None:
    rid = record_id(record)
    if rid is None:
        return None
    return {"id": f"{prefix}:{workspace_id}:{rid}", "workspace_id": workspace_id, "external_id": rid,
            "data": clean_json(dict(record)), "updated_at": record_updated_at(record)}


def to_account_row(record: Mapping[str, Any], *, workspace_id: str) -> dict[str, Any] | None:
    row = _base(record, "attioacct", workspace_id)
    if row is None:
        return None
    return row | {"name": _text(attio_value(record, "name"), 300), "domain": _text(attio_value(record, "domains"), 300),
                  "stage": _text(attio_value(record, "stage"), 100),
                  "annual_revenue": to_amount(first_value(record, "annual_revenue", "revenue"))}


def to_opportunity_row(record: Mapping[str, Any], *, workspace_id: str,
                       close_date_attributes: Sequence[str] = AttioSettings.close_date_attributes,
                       ) -> dict[str, Any] | None:
    row = _base(record, "attiodeal", workspace_id)
    if row is None:
        return None
    close = next((v for v in (attio_value(record, a) for a in close_date_attributes) if v not in (None, "")), None)
    return row | {
        "title": _text(attio_value(record, "name"), 500) or f"Opportunity {row['external_id']}",
        "stage": _text(attio_value(record, "stage"), 120) or "discovery",
        "amount": to_amount(first_value(record, "value", "amount", "amount_estimate")),
        "probability": to_probability(attio_value(record, "probability")),
        "expected_close_date": parse_date(close),
        "account_external_id": _text(first_value(record, "associated_company", "company"), 220),
        "next_step": _text(attio_value(record, "next_step"), 1000),
    }


def to_person_row(record: Mapping[str, Any], *, workspace_id: str) -> dict[str, Any] | None:
    row = _base(record, "attioperson", workspace_id)
    if row is None:
        return None
    return row | {"full_name": _text(attio_value(record, "name"), 300),
                  "email": _text(attio_value(record, "email_addresses"), 320),
                  "role": _text(attio_value(record, "job_title"), 200),
                  "account_external_id": _text(attio_value(record, "company"), 220)}


def to_note_row(note: Mapping[str, Any], *, workspace_id: str, max_chars: int) -> dict[str, Any] | None:
    nid = note.get("id")
    nid = clip(nid.get("note_id") if isinstance(nid, Mapping) else nid, 200)
    if nid is None:
        return None
    parts = [str(p).strip() for p in (note.get("title"), note.get("content_plaintext")) if p and str(p).strip()]
    actor = note.get("created_by_actor") if isinstance(note.get("created_by_actor"), Mapping) else {}
    occurred = parse_ts(note.get("created_at"))
    return {"id": f"attioact:{workspace_id}:{nid}", "workspace_id": workspace_id, "external_id": nid,
            "record_external_id": _text(note.get("parent_record_id"), 220), "activity_type": "note",
            "note": clean_text("\n\n".join(parts))[:max_chars] or None,
            "actor_name": _text(_first(actor.get("name"), actor.get("id")), 250), "occurred_at": occurred,
            "data": clean_json(dict(note)), "updated_at": occurred}


# --- CRM mirror call point (§4.6) ------------------------------------------------------------------
def mirror_crm(session: Any, scope: Scope, accounts: Sequence[Mapping[str, Any]],
               deals: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Mirror this run's raw accounts and deals into the CRM tables (§4.6), in the caller's transaction.

    The mirror itself belongs to the business layer (``shared.db.service.crm.mirror_crm``); this call
    point does nothing (returns ``{}``) when that function is not available.
    """
    try:
        from shared.db.service import crm
    except ImportError:
        return {}
    mirror = getattr(crm, "mirror_crm", None)
    if mirror is None:
        return {}
    return dict(mirror(session, scope, accounts, deals))


def live_deals(deals: Sequence[Mapping[str, Any]], deleted_accounts: set[str]) -> list[Mapping[str, Any]]:
    """The deals that are not attached to a company marked deleted upstream (only those are mirrored)."""
    return [d for d in deals if d.get("account_external_id") not in deleted_accounts]


# --- scan positions and cycles (§4.3, §4.5) ---------------------------------------------------------
@dataclass
class Scan:
    """What one run read of one listing."""

    rows: list[dict[str, Any]]
    next_offset: int = 0
    done: bool = False  # the end of the list was reached: the cycle in progress is complete
    clean: bool = True  # the page that ended the list was well-formed (a malformed one also ends it, §16)


def _int_map(value: Any) -> dict[str, int]:
    items = value.items() if isinstance(value, Mapping) else ()
    return {str(k): int(v) for k, v in items if isinstance(v, int) and not isinstance(v, bool)}


@dataclass
class ScanState:
    """The watermark's scan positions per listing: ``offsets``, ``cycles_completed``, ``cycles_started``.

    Cycle ``cycles_completed[x] + 1`` is in progress. ``cycles_started[x]`` is the last cycle seen to
    begin at offset 0 with deletion tracking: only such a cycle, read whole, may mark deletions (rows a
    cycle read before migration 0008 carry no ``seen_cycle``).
    """

    offsets: dict[str, int] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> ScanState:
        return cls(_int_map(meta.get("offsets")), _int_map(meta.get("cycles_completed")),
                   _int_map(meta.get("cycles_started")))

    def begin(self, listing: str) -> int:
        """The cycle in progress (noted as started when this run reads the listing from offset 0)."""
        cycle = self.completed.get(listing, 0) + 1
        if self.offsets.get(listing, 0) == 0:
            self.started[listing] = cycle
        return cycle

    def finish(self, listing: str, scan: Scan, *, rolling: bool) -> int | None:
        """Record where this run stopped: the cycle it completed when that cycle may mark deletions."""
        if rolling:
            self.offsets[listing] = scan.next_offset
        if not scan.done:
            return None
        cycle = self.completed.get(listing, 0) + 1
        self.completed[listing] = cycle
        return cycle if scan.clean and self.started.get(listing) == cycle else None


# --- the routine (§4.3) ----------------------------------------------------------------------------
OBJECTS: tuple[tuple[type[AttioObject], str, bool], ...] = (  # resource, touched key, mandatory
    (Companies, "touched_accounts", True),
    (Deals, "touched_opportunities", True),
    (People, "touched_people", False),
)
UPSERTS = {"companies": store.upsert_accounts, "deals": store.upsert_opportunities, "people": store.upsert_people,
           "notes": store.upsert_activities}
Listing = AttioObject | Notes


class AttioSync:
    def __init__(self, rt: Runtime, scope: Scope, workspace_id: str, settings: AttioSettings,
                 http: VendorHttp) -> None:
        self.rt, self.scope, self.ws, self.settings, self.http = rt, scope, workspace_id, settings, http
        self.stats = RunStats()
        self.chunks = ChunkTotals()
        self.gone: dict[str, tuple[int, list[str]]] = {}  # listing -> (completed cycle, row ids answering 404)

    @property
    def source(self) -> str:
        return f"attio:{self.ws}"

    def run(self) -> dict[str, Any]:
        with self.rt.session() as s:
            mark = get_watermark(session=s, scope=self.scope, source=self.source)
        state = ScanState.from_meta(mark.meta)
        touched: dict[str, int] = {}
        read: dict[str, list[dict[str, Any]]] = {}
        for step, (resource, key, mandatory) in enumerate(OBJECTS, start=1):
            got = self.sync_listing(resource(self.http, self.stats), state, mandatory=mandatory)
            if got is not None:
                touched[key], read[resource.object_slug] = got
            report_progress(step, len(OBJECTS) + 1, stage=resource.object_slug)
        touched["touched_activities"], read["notes"] = (
            self.sync_listing(Notes(self.http, self.stats), state, mandatory=False) or (0, []))
        with self.rt.transaction() as s:  # deletion marks, mirror and scan positions commit together
            self.mark_deleted(s)
            crm, skipped_deleted = self.mirror(s, read.get("companies", []), read.get("deals", []))
            result = self.result(mark, state, touched, [r for rows in read.values() for r in rows], crm)
            result["crm_mirror_skipped_deleted"] = skipped_deleted
            save_watermark(session=s, scope=self.scope, source=self.source, cursor_ts=result["cursor_ts"],
                           cursor_id=result["cursor_id"],
                           meta={k: v for k, v in result.items() if k not in ("cursor_ts", "cursor_id")}
                           | {"synced_at": utcnow().isoformat()})
        return result

    def result(self, mark: Any, state: ScanState, touched: Mapping[str, int], read_rows: list[dict[str, Any]],
               crm: dict[str, int]) -> dict[str, Any]:
        newest = max((r for r in read_rows if r["updated_at"] is not None), key=lambda r: r["updated_at"],
                     default=None)
        return {
            "source": self.source, **self.scope.to_json(),
            **{k: touched.get(k, 0) for k in ("touched_accounts", "touched_opportunities", "touched_people",
                                                "touched_activities")},
            "offsets": {r.object_slug: state.offsets.get(r.object_slug, 0) for r, _, _ in OBJECTS},
            "cycles_completed": state.completed, "cycles_started": state.started, **self.chunks.as_meta(),
            **self.stats.as_dict("skipped_items", "shape_warnings"),
            **self.stats.prefixed("added_", "updated_", "restored_", "deleted_"),
            "deleted": sum(self.stats.prefixed("deleted_").values()),
            "crm_mirror": crm, "crm_mirror_skipped": crm.get("skipped", 0),
            "previous_cursor_ts": mark.cursor_ts.isoformat() if mark.cursor_ts else None,
            "cursor_ts": newest["updated_at"] if newest else mark.cursor_ts,
            "cursor_id": newest["id"] if newest else mark.cursor_id,
            "warnings": self.stats.warnings, "requests": self.http.requests_sent,
        }

    def warn(self, step: str, exc: Exception) -> None:
        log.warning("optional Attio step failed", extra={"fields": {"step": step, "error": str(exc)}})
        self.stats.warnings.append(f"{step}: {exc}")

    def attempt(self, step: str, mandatory: bool, call: Callable[[], T]) -> T | None:
        """``call()``; a vendor error of an optional step is a warning (None), of a mandatory one raised."""
        try:
            return call()
        except (TransientError, UpstreamClientError) as exc:
            if mandatory:
                raise
            self.warn(step, exc)
            return None

    def sync_listing(self, resource: Listing, state: ScanState, *,
                     mandatory: bool) -> tuple[int, list[dict[str, Any]]] | None:
        """Read this run's window of one listing, write it stamped with the cycle in progress and, when the
        cycle completed, check the rows it did not return. (touched, rows read); None: optional step failed."""
        kind, rolling = resource.name, isinstance(resource, AttioObject)
        cycle = state.begin(kind)
        scan = self.attempt(kind, mandatory, lambda: self.scan(resource, state.offsets.get(kind, 0) if rolling else 0))
        if scan is None:
            return None
        touched = self.write(kind, scan.rows, cycle)
        completed = state.finish(kind, scan, rolling=rolling)
        if completed is None:
            return touched, scan.rows
        alive = self.attempt(f"{kind} deletions", mandatory, lambda: self.confirm_unseen(resource, completed)) or []
        return touched + self.write(kind, alive, completed), scan.rows + alive

    def scan(self, resource: Listing, offset: int) -> Scan:
        """Read from ``offset`` until ``ATTIO_SYNC_LIMIT`` items were read or a short page ends the list."""
        page_size = self.settings.notes_page_size if isinstance(resource, Notes) else self.settings.page_size
        remaining, rows, mapper = self.settings.sync_limit, [], self.mapper(resource.name)
        while remaining > 0:
            limit = min(page_size, remaining)
            records, raw_count = resource.page(limit=limit, offset=offset)
            mapped = [r for r in (mapper(rec) for rec in records) if r is not None]
            self.stats.add("skipped_items", len(records) - len(mapped))
            rows += mapped
            if raw_count is None or raw_count < limit:  # a short page is the end of the list
                return Scan(dedupe_latest(rows), 0, done=True, clean=raw_count is not None)
            offset += raw_count
            remaining -= raw_count
        return Scan(dedupe_latest(rows), offset)

    def confirm_unseen(self, resource: Listing, cycle: int) -> list[dict[str, Any]]:
        """The live rows the completed ``cycle`` did not return, asked for one by one (at most
        ``ATTIO_SYNC_LIMIT`` per run, the rest at the next completion): a 404 is a deletion, marked with
        the watermark (``self.gone``); a record still there was skipped because the list shifted under
        the rolling scan (a deletion before the scan position) and is returned as read."""
        kind, mapper = resource.name, self.mapper(resource.name)
        with self.rt.session() as s:
            unseen = store.unseen_rows(session=s, scope=self.scope, kind=kind, workspace_id=self.ws, cycle=cycle,
                                       limit=self.settings.sync_limit)
        gone, alive = [], []
        for row_id, external_id in unseen:
            record = resource.fetch(external_id)
            if record is None:
                gone.append(row_id)
                continue
            row = mapper(record) if record else None
            if row is not None and row["id"] == row_id:
                alive.append(row)
        self.gone[kind] = (cycle, gone)
        return alive

    def mapper(self, kind: str) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
        ws, settings = self.ws, self.settings
        if kind == "companies":
            return lambda rec: to_account_row(rec, workspace_id=ws)
        if kind == "deals":
            return lambda rec: to_opportunity_row(rec, workspace_id=ws,
                                                  close_date_attributes=settings.close_date_attributes)
        if kind == "notes":
            return lambda rec: to_note_row(rec, workspace_id=ws, max_chars=settings.note_max_chars)
        return lambda rec: to_person_row(rec, workspace_id=ws)

    def write(self, kind: str, rows: list[dict[str, Any]], cycle: int) -> int:
        """Upsert one listing's rows and stamp them seen by ``cycle`` (clearing a deletion mark) in one
        transaction; notes also get their chunks. Returns how many rows were inserted or changed."""
        if not rows:
            return 0
        with self.rt.transaction() as s:
            changed = self.stats.upserted(kind, UPSERTS[kind](session=s, scope=self.scope, rows=rows))
            restored = store.mark_seen(session=s, scope=self.scope, kind=kind, workspace_id=self.ws,
                                       ids=[r["id"] for r in rows], cycle=cycle)
            self.stats.add(f"restored_{kind}", len(restored))
            if kind == "notes":
                resync = changed | set(restored)  # a note back from deletion gets its chunks again
                chunk_sync(s, self.scope, self.chunks, [
                    ChunkSource(SOURCE_TYPE, SOURCE_TABLE, row["id"], row["note"], {"source_ts": row["occurred_at"]})
                    for row in rows if row["id"] in resync])
        return len(changed)

    def mark_deleted(self, session: Session) -> None:
        """Mark the rows confirmed gone (``deleted_at = now``); a deleted note loses its chunks (§16)."""
        now = utcnow()
        for kind, (cycle, ids) in self.gone.items():
            marked = store.mark_deleted(session=session, scope=self.scope, kind=kind, workspace_id=self.ws, ids=ids,
                                        cycle=cycle, now=now)
            self.stats.add(f"deleted_{kind}", len(marked))
            if kind == "notes":
                chunk_sync(session, self.scope, self.chunks,
                           [ChunkSource(SOURCE_TYPE, SOURCE_TABLE, row_id, None) for row_id in marked])

    def mirror(self, session: Session, accounts: list[dict[str, Any]],
               deals: list[dict[str, Any]]) -> tuple[dict[str, int], int]:
        """§4.6 over this run's rows (the vendor returned them: none is deleted); a deal whose company is
        marked deleted upstream is left out. Returns the mirror's counts and how many deals were left out."""
        gone = store.deleted_external_ids(session=session, scope=self.scope, kind="companies", workspace_id=self.ws,
                                          external_ids=[d.get("account_external_id") for d in deals])
        live = live_deals(deals, gone)
        return mirror_crm(session, self.scope, accounts, live), len(deals) - len(live)


def sync_attio(scope: Scope, external_id: str, state: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """The ``attio_sync`` routine (§4.3) for the bound workspace ``external_id``."""
    rt = current()
    settings = AttioSettings.from_env(rt.settings.environ)
    with AttioResource.client(settings, HttpSettings.from_settings(rt.settings), vendor_limiter("attio", rt)) as http:
        return AttioSync(rt, scope, external_id, settings, http).run()


def discover(settings: Any) -> str | None:
    """Suggested binding id (§2): ``ATTIO_WORKSPACE_ID``, else ``GET /v2/self``; None when that fails."""
    attio = AttioSettings.from_env(settings.environ)
    env_id = (settings.environ.get("ATTIO_WORKSPACE_ID") or "").strip()
    if env_id or not attio.token:
        return env_id or None
    try:
        with AttioResource.client(attio, HttpSettings.from_settings(settings)) as http:
            return discover_workspace_id(http)
    except (TransientError, UpstreamClientError):
        return None
