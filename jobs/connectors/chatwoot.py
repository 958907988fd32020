"""Chatwoot connector (connectors-rag §3): inboxes, conversations of every status, their messages.

``sync_chatwoot`` is the routine ``jobs.connectors.sync.run_sync`` calls. The vendor base class
(``ChatwootStream``) owns auth, paths and record extraction; the resources below are declarations.
The mapping functions (vendor dict → row dict) are pure and tested without a database.

Incremental by conversation activity: conversations whose activity is at or above
``watermark - CHATWOOT_OVERLAP_SECONDS`` are selected; each one is written in its own transaction
(conversation, contacts, messages, attachments, chunks), so a crash loses at most the conversation in
flight and a re-run re-reads only what the data says is missing (``known_max`` per conversation).
The watermark moves only at the end of a successful run.

Backlog of truncated runs (spec hole, decided here; the mechanics live in ``chatwoot_backlog``)
------------------------------------------------------------------------------------------------
§3.4 sets the cursor of a truncated run to ``L``, the least activity it processed, and the next run
scans only activity ``>= L - overlap``. The spec is silent on the rest, and it is lost: conversations
with activity in ``[scan_floor, L)`` (older than everything processed, newer than the old cursor) are
never synced unless they get new activity. Nor does the next run get further down: it starts again at
page 1 and re-selects (and re-reads the pages of) everything it just processed, so as long as that
fills the conversation or page budget it is truncated again at the same place, forever. The product
promise is that nothing is lost, hence:

* A truncated selection records what it still owes in the watermark's ``meta.backlog``: a window
  ``{"floor": scan_floor, "below": L}`` plus that run's ``since`` and a list-page hint. The window is
  closed (``L`` included): activity is in whole seconds, so conversations tied at ``L`` but cut off by
  the limit are owed too.
* ``cursor_ts`` stays §3.4's watermark of new activity (capped rule, overlap, never backwards), but a
  truncated run whose rest is recorded as a window takes ``A`` (the greatest activity processed), like a
  run that was not truncated: ``L`` existed to come back for the unseen part, which the window now does,
  and keeping it is what loops above. A run that owes nothing and whose §3.3 selection fits the limit
  selects, requests and moves the cursor exactly as §3.3/§3.4 say.
* ``meta.synced_activity`` records the conversations synced (not capped) at exactly their listed
  activity, for the part of the list later runs look at again (``>= cursor - overlap``, and the
  windows). The normal selection still selects such a conversation (§3.3's overlap re-read) but as a
  *revisit*: it does not count towards the limit and only takes what new activity and the backlog
  leave; the walk treats it as settled. This changes nothing when the spec's selection fits the limit.
* Each run does its normal selection first; it stops where the rest of its scan lies inside a window
  (that part is the walk's). When it is not truncated the backlog walk goes on within the same budgets
  (conversations left under the limit, pages left under the page limit; pages already read are
  reused): down the list (activity descending) it picks each conversation a window owes that is neither
  selected in this run nor synced at its activity, newest window first. Stopped by a budget, the
  window's ``below`` moves down to the lowest activity examined; a window is paid back once the walk
  passes below its ``floor``, and the end of the list pays back all of them.
* Backlogs of consecutive truncated runs form one backlog whose overall floor is the minimum of the
  floors; its windows merge when they overlap and otherwise stay apart, so that no run re-walks the
  activity synced between them (past 20 windows the two oldest merge: re-walking, never losing).
* Backfill mode drops messages created before ``since``. While windows are owed it uses the oldest
  ``since`` among them, so an owed conversation keeps its history even when new activity brings it to
  the normal selection before the walk reaches it. A capped backlog conversation stays owed (a window of
  one second at its activity), as §3.4 keeps capped ones selected.
* The page hint lets a deep backlog be reached when more than a page budget of conversations got newer
  activity since: the walk jumps to the hint only if that page's first item proves nothing owed lies
  before it (else it steps back a page at a time; deletions upstream can move conversations up), and
  trusts the hint when the page budget cannot pay for the step back.
* The backlog and ``synced_activity`` are written with the watermark, in one transaction after every
  conversation's rows have committed. A crash mid-run moves none of them, and the re-run selects and
  processes the same conversations again, idempotently (upserts; ``known_max`` forward fetch).
* The run result reports ``backlog`` (null, or the remaining overall ``floor``/``below`` and its
  ``windows``) and ``backlog_conversations`` (processed from the backlog in this run).
* Limits: when the normal selection spends a whole budget on new activity, the walk does not run; the
  backlog stays recorded, never dropped, and drains on the runs that have budget left. A conversation
  whose activity changes between two page reads of the run that pays back the last window can lose its
  older messages to that run's own ``since``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from jobs.connectors.chatwoot_backlog import (
    BacklogPick,
    BacklogWalk,
    BacklogWindow,
    ListPages,
    SyncedIndex,
    activity_of,
    backlog_json,
    load_backlog,
    message_since,
    settle,
)
from jobs.connectors.common import ChunkTotals, RunStats, chunk_sync, dedupe_last, dedupe_latest, records_at
from jobs.context import report_progress
from shared.db.service import chatwoot as store
from shared.db.service.chunk_batches import ChunkSource
from shared.db.service.watermarks import get_watermark, save_watermark
from shared.errors import UpstreamClientError
from shared.http import HttpSettings, VendorHttp, vendor_limiter
from shared.normalize import clean_json, clean_text, clip, env_int, parse_ts, to_int
from shared.runtime import Runtime, current
from shared.scope import Scope
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}
NOT_CHUNKED_TYPES = frozenset({"activity", "template"})
SOURCE_TYPE, SOURCE_TABLE = "chatwoot_message", "cw_messages"
OLDER_PAGE, AFTER_PAGE = 20, 100  # documented page sizes of C3a/C3b and C3c


# --- configuration (§3.1) ------------------------------------------------------------------------
@dataclass(frozen=True)
class ChatwootSettings:
    base_url: str
    token: str
    conversations_limit: int = 60
    pages_limit: int = 20
    messages_limit: int = 300
    lookback_days: int = 7
    overlap_seconds: int = 300
    max_content_chars: int = 100_000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ChatwootSettings:
        return cls(
            base_url=(env.get("CHATWOOT_BASE_URL") or "").strip().rstrip("/"),
            token=(env.get("CHATWOOT_API_TOKEN") or "").strip(),
            conversations_limit=env_int("CHATWOOT_CONVERSATIONS_LIMIT", 60, 1, 1000, env),
            pages_limit=env_int("CHATWOOT_PAGES_LIMIT", 20, 1, 200, env),
            messages_limit=env_int("CHATWOOT_MESSAGES_LIMIT", 300, 1, 3000, env),
            lookback_days=env_int("CHATWOOT_LOOKBACK_DAYS", 7, 1, 365, env),
            overlap_seconds=env_int("CHATWOOT_OVERLAP_SECONDS", 300, 0, 86400, env),
            max_content_chars=env_int("CHATWOOT_MAX_CONTENT_CHARS", 100_000, 1000, 1_000_000, env),
        )


# --- vendor base and resources (§3.2) --------------------------------------------------------------
class ChatwootStream:
    """Everything common to Chatwoot's application API: auth header, account paths, record paths."""

    name: ClassVar[str]
    path: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    records_paths: ClassVar[tuple[tuple[str, ...], ...]] = (("payload",),)

    def __init__(self, http: VendorHttp, account_id: int, stats: RunStats) -> None:
        self.http, self.account_id, self.stats = http, account_id, stats

    @staticmethod
    def client(settings: ChatwootSettings, http_settings: HttpSettings, limiter: Any = None) -> VendorHttp:
        headers = {"api_access_token": settings.token, "Accept": "application/json"}
        return VendorHttp("chatwoot", settings.base_url, headers=headers, settings=http_settings, limiter=limiter)

    def fetch(self, params: Mapping[str, Any] | None = None, **path_args: Any) -> list[dict[str, Any]]:
        payload = self.http.get(self.path.format(acc=self.account_id, **path_args), {**self.params, **(params or {})})
        return self.records(payload)

    def records(self, payload: Any) -> list[dict[str, Any]]:
        items = records_at(payload, self.records_paths)
        if items is None:
            self.stats.add("shape_warnings")
            return []
        good = [item for item in items if isinstance(item, dict)]
        self.stats.add("skipped_items", len(items) - len(good))
        return good


class Inboxes(ChatwootStream):
    name = "inboxes"
    path = "/api/v1/accounts/{acc}/inboxes"
    records_paths = (("payload",), ("data", "payload"), ("data",))


class Conversations(ChatwootStream):
    name = "conversations"
    path = "/api/v1/accounts/{acc}/conversations"
    params = {"status": "all", "assignee_type": "all", "sort_by": "last_activity_at_desc"}
    records_paths = (("data", "payload"), ("payload",))

    def page(self, number: int) -> list[dict[str, Any]]:
        return self.fetch({"page": number})


class Messages(ChatwootStream):
    name = "messages"
    path = "/api/v1/accounts/{acc}/conversations/{cid}/messages"
    records_paths = (("payload",), ("data", "payload"))

    def latest(self, cid: int) -> list[dict[str, Any]]:
        return self.fetch(cid=cid)

    def before(self, cid: int, message_id: int) -> list[dict[str, Any]]:
        return self.fetch({"before": message_id}, cid=cid)

    def after(self, cid: int, message_id: int) -> list[dict[str, Any]]:
        return self.fetch({"after": message_id}, cid=cid)


# --- pure mapping (§0.2, §3.5, §3.6) ---------------------------------------------------------------
def conversation_gid(pid: str, acc: int, cid: int) -> str:
    return f"cw:{pid}:{acc}:{cid}"


def message_gid(pid: str, acc: int, mid: int) -> str:
    return f"cwmsg:{pid}:{acc}:{mid}"


def contact_gid(pid: str, acc: int, contact_id: int) -> str:
    return f"cwc:{pid}:{acc}:{contact_id}"


def inbox_gid(pid: str, acc: int, inbox_id: int) -> str:
    return f"cwinbox:{pid}:{acc}:{inbox_id}"


def attachment_gid(pid: str, acc: int, key: str) -> str:
    return f"cwa:{pid}:{acc}:{key}"


def _first(*values: Any) -> Any:
    """The first value that is not None / empty string (the spec's ``a or b`` over vendor fields)."""
    for value in values:
        if value is not None and value != "":
            return value
    return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def to_inbox_row(item: Mapping[str, Any], *, pid: str, acc: int) -> dict[str, Any] | None:
    inbox_id = to_int(item.get("id"))
    if inbox_id is None:
        return None
    return {"id": inbox_gid(pid, acc, inbox_id), "account_id": acc, "inbox_id": inbox_id,
            "name": clean_str(clip(item.get("name"), 300)),
            "channel_type": clean_str(clip(_first(item.get("channel_type"), item.get("channel")), 100)),
            "data": clean_json(item), "updated_at": parse_ts(_first(item.get("updated_at"), item.get("created_at")))}


def clean_str(value: str | None) -> str | None:
    return clean_text(value) if value is not None else None


def to_contact_row(sender: Mapping[str, Any], *, pid: str, acc: int, fallback_id: Any = None,
                   fallback_ts: datetime | None = None) -> dict[str, Any] | None:
    contact_id = to_int(_first(sender.get("id"), fallback_id))
    if contact_id is None:
        return None
    custom = sender.get("custom_attributes")
    if not isinstance(custom, dict):
        custom = sender.get("additional_attributes") if isinstance(sender.get("additional_attributes"), dict) else {}
    return {
        "id": contact_gid(pid, acc, contact_id), "account_id": acc, "contact_id": contact_id,
        "name": clean_str(clip(sender.get("name"), 500)), "email": clean_str(clip(sender.get("email"), 500)),
        "phone_number": clean_str(clip(_first(sender.get("phone_number"), sender.get("phoneNumber")), 100)),
        "identifier": clean_str(clip(sender.get("identifier"), 500)), "custom_attributes": clean_json(custom),
        "data": clean_json(dict(sender)),
        "updated_at": parse_ts(_first(sender.get("updated_at"), sender.get("last_activity_at"))) or fallback_ts,
    }


def conversation_sender(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """The conversation's contact object (``meta.sender``, else ``contact``, else ``sender``), if eligible."""
    sender = _first(_obj(item.get("meta")).get("sender") or None, item.get("contact") or None,
                    item.get("sender") or None)
    if not isinstance(sender, dict):
        return None
    kind = str(_first(sender.get("type"), sender.get("role")) or "").lower()
    if kind and "contact" not in kind and "customer" not in kind:
        return None
    return sender


def to_conversation_row(item: Mapping[str, Any], *, pid: str, acc: int) -> tuple[dict[str, Any] | None,
                                                                                  dict[str, Any] | None]:
    """(conversation row, contact row) of one C2 item; (None, None) when the id is unusable."""
    cid = to_int(item.get("id"))
    if cid is None:
        return None, None
    activity = activity_of(item)
    sender = conversation_sender(item)
    contact = to_contact_row(sender, pid=pid, acc=acc, fallback_ts=activity) if sender else None
    row = {
        "id": conversation_gid(pid, acc, cid), "account_id": acc, "conversation_id": cid,
        "contact_global_id": contact["id"] if contact else None, "inbox_id": to_int(item.get("inbox_id")),
        "status": clean_str(clip(item.get("status"), 100)),
        "assignee_id": to_int(_first(item.get("assignee_id"), _obj(_obj(item.get("meta")).get("assignee")).get("id"))),
        "data": clean_json(dict(item)), "updated_at": activity,
    }
    return row, contact


def message_type_name(value: Any) -> str | None:
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return clean_str(clip(value.lower(), 100))
    number = to_int(value)
    if number is not None:
        return MESSAGE_TYPES.get(number, str(number))
    return clean_str(clip(value, 100))


def message_sender_is_contact(message: Mapping[str, Any]) -> bool:
    sender_type = str(message.get("sender_type") or "").strip().lower()
    if sender_type:
        return "contact" in sender_type
    kind = str(_obj(message.get("sender")).get("type") or "").strip().lower()
    return not kind or "contact" in kind


@dataclass
class MappedMessage:
    row: dict[str, Any]
    contact: dict[str, Any] | None
    attachments: list[dict[str, Any]]


def to_message_rows(message: Mapping[str, Any], *, pid: str, acc: int, conversation: Mapping[str, Any],
                    max_chars: int) -> MappedMessage | None:
    """Message row, its contact (when the sender is one) and its attachments; None when the id is unusable."""
    mid = to_int(message.get("id"))
    if mid is None:
        return None
    sender = _obj(message.get("sender"))
    created = parse_ts(_first(message.get("created_at"), message.get("updated_at")))
    updated = parse_ts(_first(message.get("updated_at"), message.get("created_at"))) or created
    contact = None
    contact_global_id = conversation.get("contact_global_id")
    if message_sender_is_contact(message):
        contact_id = to_int(_first(sender.get("id"), message.get("sender_id")))
        if contact_id is not None:
            contact_global_id = contact_gid(pid, acc, contact_id)
            if sender:
                contact = to_contact_row(sender, pid=pid, acc=acc, fallback_id=contact_id, fallback_ts=updated)
    content_attributes = _obj(message.get("content_attributes"))
    content = message.get("content")
    gid = message_gid(pid, acc, mid)
    row = {
        "id": gid, "account_id": acc, "message_id": mid,
        "conversation_id": to_int(message.get("conversation_id")) or conversation["conversation_id"],
        "conversation_global_id": conversation["id"], "contact_global_id": contact_global_id,
        "sender_type": clean_str(clip(_first(message.get("sender_type"), sender.get("type")), 100)),
        "sender_id": to_int(_first(message.get("sender_id"), sender.get("id"))),
        "private": bool(message.get("private")), "message_type": message_type_name(message.get("message_type")),
        "content": _content(content, max_chars),
        "deleted": content_attributes.get("deleted") is True,
        "data": clean_json(dict(message)), "created_at": created, "updated_at": updated,
    }
    return MappedMessage(row, contact, to_attachment_rows(message, row, pid=pid, acc=acc))


def _content(value: Any, max_chars: int) -> str:
    """``clean_text`` cut to the limit; empty and whitespace-only content is stored as ``""`` (§16)."""
    text = clean_text(str(value if value is not None else ""))
    return text[:max_chars] if text.strip() else ""


def to_attachment_rows(message: Mapping[str, Any], row: Mapping[str, Any], *, pid: str,
                       acc: int) -> list[dict[str, Any]]:
    items = message.get("attachments")
    if not isinstance(items, list):
        return []
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        key = clip(_first(item.get("id"), item.get("file_id")), 200) or f"{row['message_id']}:{i}"
        out.append({
            "id": attachment_gid(pid, acc, clean_text(key)), "account_id": acc, "message_global_id": row["id"],
            "conversation_global_id": row["conversation_global_id"],
            "content_type": clean_str(clip(_first(item.get("file_type"), item.get("content_type"), item.get("type")),
                                           120)),
            "file_size": to_int(_first(item.get("file_size"), item.get("size"))),
            "file_url": clean_str(clip(_first(item.get("data_url"), item.get("file_url"), item.get("url"),
                                              item.get("download_url")), 2000)),
            "thumb_url": clean_str(clip(_first(item.get("thumb_url"), item.get("thumbnail"), item.get("thumb")),
                                        2000)),
            "payload": clean_json(item),
            "updated_at": parse_ts(_first(item.get("updated_at"), item.get("created_at"))) or row["updated_at"],
        })
    return out


def chunk_text(row: Mapping[str, Any]) -> str | None:
    """The text to chunk (§3.6), or None when the message must have no chunks."""
    if row["private"] or row["deleted"] or row["message_type"] in NOT_CHUNKED_TYPES:
        return None
    return row["content"] or None


def chunk_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"conversation_global_id": row["conversation_global_id"], "message_global_id": row["id"],
            "contact_global_id": row["contact_global_id"], "source_ts": row["created_at"]}


def order_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """De-duplicated by id (the last copy wins), ordered by (created_at, id)."""
    unique = dedupe_last((m for m in messages if to_int(m.get("id")) is not None), key=lambda m: to_int(m["id"]))
    return sorted(unique, key=lambda m: (_ts_key(m), to_int(m["id"])))


def _ts_key(message: Mapping[str, Any]) -> float:
    ts = parse_ts(_first(message.get("created_at"), message.get("updated_at")))
    return ts.timestamp() if ts else float("-inf")


# --- conversation selection (§3.3 step 2), pure -----------------------------------------------------
@dataclass
class ConversationSelector:
    """§3.3 step 2. ``selected`` counts against the limit; ``revisits`` (conversations listed at the very
    activity they were synced at, module docstring) only take what the limit leaves."""

    scan_floor: datetime
    limit: int
    synced: SyncedIndex = field(default_factory=SyncedIndex)
    windows: list[BacklogWindow] = field(default_factory=list)
    selected: list[dict[str, Any]] = field(default_factory=list)
    revisits: list[dict[str, Any]] = field(default_factory=list)
    taken: list[dict[str, Any]] = field(default_factory=list)  # selected and revisits, in list order
    seen: set[int] = field(default_factory=set)
    floor_reached: bool = False
    truncated: bool = False
    largest_page: int = 0
    skipped_items: int = 0
    pages_read: int = 0

    @property
    def resume_page(self) -> int:
        """The list page where what this selection left unexamined begins."""
        return self.pages_read if len(self.selected) >= self.limit else self.pages_read + 1

    def add_page(self, items: list[dict[str, Any]]) -> bool:
        """Take one list page; True when the next page should be read."""
        self.pages_read += 1
        if not items:
            return False
        new = 0
        for item in items:
            cid = to_int(item.get("id"))
            if cid is None:
                self.skipped_items += 1
                continue
            if cid in self.seen:
                continue
            self.seen.add(cid)
            new += 1
            activity = activity_of(item)
            if activity is not None and (activity < self.scan_floor or self.handed_over(activity)):
                self.floor_reached = True
                continue
            self.taken.append(item)
            if self.synced.has(cid, activity):
                self.revisits.append(item)
                continue
            self.selected.append(item)
            if len(self.selected) >= self.limit:
                self.truncated = True
                return False
        short = len(items) < self.largest_page
        self.largest_page = max(self.largest_page, len(items))
        return not (self.floor_reached or new == 0 or short)

    def handed_over(self, activity: datetime) -> bool:
        """From here down to the scan floor the list lies inside a backlog window: the walk's part."""
        return any(w.covers(activity) and w.floor <= self.scan_floor for w in self.windows)

    def exhausted_pages(self) -> None:
        """The page limit ran out while every page was full and the floor was not reached."""
        self.truncated = True

    def in_list_order(self, revisits: int) -> list[dict[str, Any]]:
        """The selected conversations and the first ``revisits`` revisits, in list order."""
        chosen = {id(item) for item in [*self.selected, *self.revisits[:max(revisits, 0)]]}
        return [item for item in self.taken if id(item) in chosen]


def next_cursor(*, previous: datetime | None, since: datetime, processed: list[datetime | None],
                capped: list[datetime | None], truncated: bool) -> datetime:
    """The activity watermark after a successful run (§3.4)."""
    known = [a for a in processed if a is not None]
    if not known:
        return previous or since
    candidate = min(known) if truncated else max(known)
    capped_known = [a for a in capped if a is not None]
    if capped_known:
        candidate = min(candidate, min(capped_known))
    return max(previous, candidate) if previous else candidate


# --- the routine (§3.3) ----------------------------------------------------------------------------
@dataclass
class ConversationResult:
    messages: list[dict[str, Any]]
    capped: bool


@dataclass
class RunTally:
    """What processing the selected conversations gave. ``activities``/``capped`` feed §3.4's cursor and hold
    the normal selection only (backlog conversations lie below the cursor by construction); ``synced`` and
    ``unsynced`` update the ``SyncedIndex``."""

    activities: list[datetime | None] = field(default_factory=list)
    capped: list[datetime | None] = field(default_factory=list)
    capped_ids: set[int] = field(default_factory=set)
    synced: dict[int, datetime] = field(default_factory=dict)
    unsynced: set[int] = field(default_factory=set)
    processed: int = 0
    capped_count: int = 0
    from_backlog: int = 0
    newest: dict[str, Any] | None = None

    def add(self, item: Mapping[str, Any], outcome: ConversationResult | None, *, from_backlog: bool) -> None:
        cid, activity = to_int(item.get("id")), activity_of(item)
        if outcome is None or outcome.capped:
            self.unsynced.update([cid] if cid is not None else [])
        elif cid is not None and activity is not None:
            self.synced[cid] = activity
        if outcome is None:
            return
        self.processed += 1
        self.from_backlog += from_backlog
        if not from_backlog:
            self.activities.append(activity)
        if outcome.capped:
            self.capped_count += 1
            self.capped_ids.update([cid] if cid is not None else [])
            if not from_backlog:
                self.capped.append(activity)
        for row in outcome.messages:
            if self.newest is None or _recency(row) > _recency(self.newest):
                self.newest = row


def truncated_window(selector: ConversationSelector, since: datetime) -> BacklogWindow | None:
    """What a truncated selection leaves owed: ``[scan_floor, L]``, ``L`` the least activity it selected."""
    known = [a for a in (activity_of(item) for item in selector.selected) if a is not None]
    if not known:
        return None
    return BacklogWindow(selector.scan_floor, min(known), since, selector.resume_page)


class ChatwootSync:
    """One run for one project and account. ``sync_chatwoot`` builds it; tests may drive it directly."""

    def __init__(self, rt: Runtime, scope: Scope, account_id: int, settings: ChatwootSettings,
                 http: VendorHttp) -> None:
        self.rt, self.scope, self.acc, self.settings, self.http = rt, scope, account_id, settings, http
        self.pid = str(scope.project_id)
        self.stats = RunStats()
        self.chunks = ChunkTotals()
        self.conversations = Conversations(http, account_id, self.stats)
        self.messages = Messages(http, account_id, self.stats)
        self.inboxes = Inboxes(http, account_id, self.stats)
        self.known_max: dict[str, int] = {}

    @property
    def source(self) -> str:
        return f"chatwoot:{self.acc}"

    def run(self) -> dict[str, Any]:
        with self.rt.session() as s:
            mark = get_watermark(session=s, scope=self.scope, source=self.source)
        now = utcnow()
        since = mark.cursor_ts or now - timedelta(days=self.settings.lookback_days)
        scan_floor = since - timedelta(seconds=self.settings.overlap_seconds)
        owed, synced = load_backlog(mark.meta.get("backlog")), SyncedIndex.from_json(mark.meta.get("synced_activity"))
        touched_inboxes = self.sync_inboxes()
        pages = ListPages(self.conversations.page, self.settings.pages_limit)
        selector = self.select(scan_floor, pages, synced, owed)
        walk = self.walk_backlog(owed, synced, selector, pages)
        room = self.settings.conversations_limit - len(selector.selected) - len(walk.picks)
        tally = self.sync_selected(selector.in_list_order(room), walk.picks, message_since(owed, since))
        cursor_ts, backlog, synced = self.positions(mark.cursor_ts, since, selector, walk, tally, synced)
        result = {
            "source": self.source, "since": since, "scan_floor": scan_floor, **self.scope.to_json(),
            "processed_conversations": tally.processed,
            **self.stats.as_dict("processed_messages", "fetched_messages", "skipped_conversations",
                                 "touched_conversations", "touched_contacts", "touched_attachments",
                                 "skipped_items", "shape_warnings"),
            "skipped_items": self.stats["skipped_items"] + selector.skipped_items,
            "capped_conversations": tally.capped_count, "truncated": selector.truncated, **self.chunks.as_meta(),
            "touched_inboxes": touched_inboxes, **self.stats.prefixed("added_", "updated_", "deleted_messages"),
            "backlog": backlog_json(backlog), "backlog_conversations": tally.from_backlog,
            "cursor_ts": cursor_ts,
            "cursor_id": tally.newest["id"] if tally.newest else mark.cursor_id, "storage": self.storage(),
            "requests": self.http.requests_sent,
        }
        with self.rt.transaction() as s:  # cursor and backlog together, after every conversation committed
            save_watermark(session=s, scope=self.scope, source=self.source, cursor_ts=cursor_ts,
                           cursor_id=result["cursor_id"], meta=_json_meta(result) | {
                               "synced_at": now.isoformat(), "synced_activity": synced.to_json()})
        return result

    def positions(self, previous: datetime | None, since: datetime, selector: ConversationSelector,
                  walk: BacklogWalk, tally: RunTally, synced: SyncedIndex
                  ) -> tuple[datetime, list[BacklogWindow], SyncedIndex]:
        """The cursor (§3.4), the backlog and the synced index this run leaves (module docstring)."""
        new_window = truncated_window(selector, since) if selector.truncated else None
        backlog = settle(walk.remaining(), walk.picks, tally.capped_ids, new_window)
        cursor_ts = next_cursor(previous=previous, since=since, capped=tally.capped,
                                processed=tally.activities + [activity_of(i) for i in selector.revisits],
                                truncated=selector.truncated and new_window is None)
        rescan = cursor_ts - timedelta(seconds=self.settings.overlap_seconds)
        synced = synced.updated(tally.synced, tally.unsynced,
                                keep=lambda a: a >= rescan or any(w.covers(a) for w in backlog))
        return cursor_ts, backlog, synced

    def walk_backlog(self, owed: list[BacklogWindow], synced: SyncedIndex, selector: ConversationSelector,
                     pages: ListPages) -> BacklogWalk:
        """Pay back owed windows with what the normal selection left of the budgets (module docstring)."""
        handled = {cid for cid in (to_int(i.get("id")) for i in selector.selected) if cid is not None}
        walk = BacklogWalk(owed, pages, handled, synced, self.settings.conversations_limit - len(selector.selected))
        return walk if selector.truncated else walk.run()

    def sync_selected(self, selected: list[dict[str, Any]], picks: list[BacklogPick], since: datetime) -> RunTally:
        """§3.3 step 3 for the normal selection, then for the conversations picked from the backlog."""
        items = [(item, False) for item in selected] + [(pick.item, True) for pick in picks]
        with self.rt.session() as s:  # each conversation is written once per run: its position is read up front
            self.known_max = store.known_max_message_ids(session=s, scope=self.scope, conversation_global_ids=[
                conversation_gid(self.pid, self.acc, cid) for cid in (to_int(i.get("id")) for i, _ in items)
                if cid is not None])
        tally = RunTally()
        for done, (item, from_backlog) in enumerate(items, start=1):
            tally.add(item, self.sync_conversation(item, since), from_backlog=from_backlog)
            report_progress(done, len(items), stage="conversations", messages=self.stats["processed_messages"])
        return tally

    def sync_inboxes(self) -> int:
        items = self.inboxes.fetch()
        rows = [r for r in (to_inbox_row(i, pid=self.pid, acc=self.acc) for i in items) if r]
        self.stats.add("skipped_items", len(items) - len(rows))
        with self.rt.transaction() as s:
            return len(self.stats.upserted("inboxes", store.upsert_inboxes(
                session=s, scope=self.scope, rows=dedupe_last(rows, key=lambda r: r["id"]))))

    def select(self, scan_floor: datetime, pages: ListPages, synced: SyncedIndex,
               owed: list[BacklogWindow]) -> ConversationSelector:
        selector = ConversationSelector(scan_floor, self.settings.conversations_limit, synced, owed)
        for number in range(1, pages.limit + 1):
            if not selector.add_page(pages.get(number) or []):
                return selector
        selector.exhausted_pages()
        return selector

    def sync_conversation(self, item: dict[str, Any], since: datetime) -> ConversationResult | None:
        conversation, contact = to_conversation_row(item, pid=self.pid, acc=self.acc)
        if conversation is None:
            return None
        known_max = self.known_max.get(conversation["id"])
        try:
            fetched = self.fetch_messages(conversation["conversation_id"], known_max, since)
        except UpstreamClientError as exc:
            if exc.status != 404:
                raise
            self.stats.add("skipped_conversations")
            log.warning("conversation not found upstream; skipped",
                        extra={"fields": {"conversation_id": conversation["conversation_id"]}})
            return None
        self.stats.add("fetched_messages", len(fetched.messages))
        mapped = [m for m in (to_message_rows(msg, pid=self.pid, acc=self.acc, conversation=conversation,
                                              max_chars=self.settings.max_content_chars)
                              for msg in fetched.messages) if m is not None]
        self.stats.add("skipped_items", len(fetched.messages) - len(mapped))
        rows = [m.row for m in mapped]
        contacts = dedupe_latest([c for c in [contact, *(m.contact for m in mapped)] if c])
        attachments = dedupe_last((a for m in mapped for a in m.attachments), key=lambda a: a["id"])
        with self.rt.transaction() as s:
            up = self.stats.upserted
            self.stats.add("touched_conversations", len(up("conversations", store.upsert_conversations(
                session=s, scope=self.scope, rows=[conversation]))))
            self.stats.add("touched_contacts", len(up("contacts", store.upsert_contacts(
                session=s, scope=self.scope, rows=contacts))))
            upserted = store.upsert_messages(session=s, scope=self.scope, rows=rows, fresh=known_max is None)
            changed, new = up("messages", upserted), upserted.inserted_ids
            self.stats.add("deleted_messages", sum(1 for r in rows if r["id"] in changed and r["deleted"]))
            self.stats.add("touched_attachments", len(up("attachments", store.upsert_attachments(
                session=s, scope=self.scope, rows=attachments))))
            chunk_sync(s, self.scope, self.chunks, [
                ChunkSource(SOURCE_TYPE, SOURCE_TABLE, row["id"], chunk_text(row), chunk_fields(row),
                            new=row["id"] in new) for row in rows if row["id"] in changed])
        self.stats.add("processed_messages", len(changed))
        return ConversationResult([r for r in rows if r["id"] in changed], fetched.capped)

    def fetch_messages(self, cid: int, known_max: int | None, since: datetime) -> ConversationResult:
        """§3.3 step 3.3. A page shorter than the vendor's page size (20 newest/older, 100 newer) is the last
        one, which spares the empty page the literal algorithm would still request."""
        limit = self.settings.messages_limit
        latest = self.messages.latest(cid)
        if known_max is not None:  # forward mode: fill upwards from what is stored
            collected, after, new, capped = [], known_max, 0, False
            while True:
                page = self.messages.after(cid, after)
                ids = [i for i in (to_int(m.get("id")) for m in page) if i is not None]
                if not ids or max(ids) <= after:
                    break
                collected += page
                new += sum(1 for i in ids if i > known_max)
                after = max(ids)
                if len(page) < AFTER_PAGE:
                    break
                if new >= limit:
                    capped = True
                    break
            # the newest page re-reads recent edits; above a capped fill it would leave a gap, so it waits
            collected += [m for m in latest if (to_int(m.get("id")) or after + 1) <= after]
            return ConversationResult(order_messages(collected), capped)
        collected, page = list(latest), latest  # backfill mode: newest first, then older pages
        while len(page) >= OLDER_PAGE and len(collected) < limit:
            oldest = min(page, key=_ts_key)
            oldest_ts = parse_ts(_first(oldest.get("created_at"), oldest.get("updated_at")))
            if oldest_ts is not None and oldest_ts < since:
                break
            lowest = min((i for i in (to_int(m.get("id")) for m in collected) if i is not None), default=None)
            if lowest is None:
                break
            page = self.messages.before(cid, lowest)
            if not page or min((to_int(m.get("id")) or lowest) for m in page) >= lowest:
                break
            collected += page
        floor = since.timestamp()
        kept = [m for m in order_messages(collected) if _ts_key(m) == float("-inf") or _ts_key(m) >= floor]
        return ConversationResult(kept[-limit:], False)

    def storage(self) -> dict[str, Any]:
        settings = self.rt.settings
        budget = int(settings.storage_budget_gb * 1024 ** 3)
        with self.rt.session() as s:
            size = store.database_size(session=s)
        if size is None:
            return {"database_bytes": None, "budget_bytes": budget, "usage_percent": None, "alert": False}
        usage = round(size * 100 / budget, 2) if budget else 0.0
        alert = usage >= settings.storage_alert_threshold_pct
        if alert:
            log.warning("database storage above the alert threshold", extra={"fields": {"usage_percent": usage}})
        return {"database_bytes": size, "budget_bytes": budget, "usage_percent": usage, "alert": alert}


def _recency(row: Mapping[str, Any]) -> tuple[float, int]:
    created = row["created_at"]
    return (created.timestamp() if created else float("-inf"), row["message_id"])


def _json_meta(result: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in result.items()
            if k not in ("cursor_ts", "cursor_id")}


def sync_chatwoot(scope: Scope, external_id: str, state: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """The ``chatwoot_sync`` routine (§3.3) for the bound account ``external_id``."""
    rt = current()
    settings = ChatwootSettings.from_env(rt.settings.environ)
    account_id = to_int(external_id)
    if account_id is None:
        raise UpstreamClientError(f"chatwoot: bound account id {external_id!r} is not an integer",
                                  error_kind="invalid_binding")
    with ChatwootStream.client(settings, HttpSettings.from_settings(rt.settings),
                               vendor_limiter("chatwoot", rt)) as http:
        return ChatwootSync(rt, scope, account_id, settings, http).run()
