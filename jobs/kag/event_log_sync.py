"""Domain events of the KAG event log (kag.md §5.1, `sync_connector_event_log`).

Wiring: after a successful connector sync (inline) or in `kag_event_log_sync` (backfill), the
handler resolves the window (`resolve_window`), reads the connector's raw rows in it and the
"previous state" the rules compare against, calls `derive_connector_events(...)` and inserts
`EventLogSync.rows` into `kag_event_log` `ON CONFLICT (project_id, dedupe_key) DO NOTHING`.
`EventLogSync.result(inserted)` is the job result.

Previous state (read by the handler, passed in):
- linear: `last_block_state` = for each issue external id, the event type of its latest logged
  `issue_blocked`/`issue_unblocked` row;
- attio: `last_deal_stage` = for each deal external id, `payload_json.stage` of its latest logged
  `deal_stage_changed` row;
- chatwoot: `conversation_activity` = per conversation `last_team_at` / `last_client_at` over its
  non-private messages (an aggregate over all stored messages, so a conversation silent since
  before the window is still seen). Without it the window's messages are used.

Decisions where the spec is silent:
- `issue_blocked` is emitted only on a real change (the latest logged blocked-state event is not
  already `issue_blocked`), like `issue_unblocked`; "blocked" = `blocked` flag or a state name
  containing "blocked" (the same rule as graph ingest).
- Deal stages are compared on their slug (lower-cased, emoji/punctuation stripped: `Won 🎉` = `won`)
  rather than on the 6-value normalised stage, so `Discovery → Frozen` (both normalise to
  `discovery`) is still a change the outcome rule can see; the payload keeps the raw `stage` and adds
  `stage_normalized`; `deal_id` is the raw row id.
- Keyword events (`approval_requested`, `scope_change_detected`) skip private notes (internal
  chatter is not a client request); `message_sent` includes them with `payload.private=true`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.kag.events_log import EventLogRow
from jobs.kag.ingest import sender_kind
from jobs.kag.keys import sha1hex
from jobs.kag.rounding import to_number
from jobs.kag.rows import field as get
from jobs.kag.stages import normalize_deal_stage, stage_slug
from jobs.kag.timeutil import iso_z, parse_date, parse_ts

__all__ = [
    "APPROVAL_KEYWORDS",
    "SCOPE_KEYWORDS",
    "EventLogSync",
    "SyncWindow",
    "clamp_limit",
    "derive_attio_events",
    "derive_chatwoot_events",
    "derive_connector_events",
    "derive_linear_events",
    "domain_dedupe_key",
    "resolve_window",
]

APPROVAL_KEYWORDS = ("approve", "approval", "апрув", "подтверд", "согласуйте", "согласуем")
SCOPE_KEYWORDS = (
    "out of scope",
    "outside scope",
    "change request",
    "вне скоупа",
    "дополнительно",
    "доработк",
)
SILENCE = timedelta(days=4)
MAX_SILENT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SyncWindow:
    since: datetime
    until: datetime

    def contains(self, ts: datetime | None) -> bool:
        return ts is not None and self.since < ts <= self.until


def resolve_window(
    now: datetime, *, since: Any = None, until: Any = None, cursor: Any = None, lookback_days: int = 14
) -> SyncWindow:
    """`since` = explicit, else the connector cursor, else now − lookback; `until` = explicit or now."""
    start = parse_ts(since) or parse_ts(cursor) or now - timedelta(days=lookback_days)
    end = parse_ts(until) or now
    return SyncWindow(start, end)


def clamp_limit(limit: Any = None) -> int:
    number = to_number(limit, allow_str=True)
    return 3000 if number is None else int(min(max(int(number), 10), 50000))


def domain_dedupe_key(source: str, event_type: str, source_ref: str, occurred_at: datetime) -> str:
    return sha1hex(f"{source}|{event_type}|{source_ref}|{iso_z(occurred_at)}")


def _row(
    source: str,
    event_type: str,
    occurred_at: datetime,
    actor: str,
    source_ref: str,
    payload: dict[str, Any],
    **extra: Any,
) -> EventLogRow:
    return EventLogRow(
        event_type=event_type,
        occurred_at=occurred_at,
        actor=actor,
        source=source,
        source_ref=source_ref,
        dedupe_key=domain_dedupe_key(source, event_type, source_ref, occurred_at),
        payload_json=payload,
        **extra,
    )


def _in_window(rows: Iterable[Any], window: SyncWindow, ts_of: Any, limit: int) -> list[tuple[datetime, Any]]:
    picked = [(ts, r) for r in rows if window.contains(ts := ts_of(r))]
    picked.sort(key=lambda item: (item[0], str(get(item[1], "id"))))
    return picked[:limit]


# --- chatwoot ---------------------------------------------------------------------------------


def derive_chatwoot_events(
    messages: Iterable[Any],
    window: SyncWindow,
    *,
    conversation_activity: Iterable[Any] | None = None,
    limit: int = 3000,
) -> list[EventLogRow]:
    def ts_of(r: Any) -> datetime | None:
        return parse_ts(get(r, "updated_at")) or parse_ts(get(r, "created_at"))

    rows: list[EventLogRow] = []
    activity: dict[str, dict[str, datetime | None]] = {}
    for _, m in _in_window(messages, window, ts_of, limit):
        global_id = str(get(m, "id") or "")
        occurred = parse_ts(get(m, "created_at")) or parse_ts(get(m, "updated_at"))
        if not global_id or occurred is None:
            continue
        private = bool(get(m, "private", False))
        actor = sender_kind(get(m, "sender_type"))
        account, conv, msg = get(m, "account_id"), get(m, "conversation_id"), get(m, "message_id")
        url = (
            f"chatwoot://accounts/{account}/conversations/{conv}/messages/{msg}"
            if account is not None and conv is not None and msg is not None
            else None
        )
        content = str(get(m, "content", "") or "")
        payload = {
            "conversation_global_id": get(m, "conversation_global_id"),
            "message_global_id": global_id,
            "sender_type": get(m, "sender_type"),
            "private": private,
            "message_type": get(m, "message_type"),
            "created_at": iso_z(parse_ts(get(m, "created_at"))),
            "updated_at": iso_z(parse_ts(get(m, "updated_at"))),
            "snippet": content[:300],
        }
        extra = {"source_url": url, "source_message_id": global_id}
        rows.append(_row("chatwoot", "message_sent", occurred, actor, global_id, dict(payload), **extra))
        if private:
            continue
        lowered = content.lower()
        if any(k in lowered for k in APPROVAL_KEYWORDS):
            rows.append(
                _row("chatwoot", "approval_requested", occurred, actor, global_id, dict(payload), **extra)
            )
        if any(k in lowered for k in SCOPE_KEYWORDS):
            rows.append(
                _row("chatwoot", "scope_change_detected", occurred, actor, global_id, dict(payload), **extra)
            )
        conv_id = get(m, "conversation_global_id")
        if conv_id and actor in ("client", "team"):
            slot = activity.setdefault(str(conv_id), {"last_team_at": None, "last_client_at": None})
            name = "last_team_at" if actor == "team" else "last_client_at"
            current = slot[name]
            if current is None or occurred > current:
                slot[name] = occurred

    if conversation_activity is not None:
        activity = {
            str(get(r, "conversation_global_id")): {
                "last_team_at": parse_ts(get(r, "last_team_at")),
                "last_client_at": parse_ts(get(r, "last_client_at")),
            }
            for r in conversation_activity
            if get(r, "conversation_global_id")
        }
    silent = 0
    for conv_id in sorted(activity):
        team, client = activity[conv_id]["last_team_at"], activity[conv_id]["last_client_at"]
        if team is None or (client is not None and client > team) or window.until - team < SILENCE:
            continue
        if silent >= MAX_SILENT:
            break
        silent += 1
        rows.append(
            _row(
                "chatwoot",
                "client_silent_started",
                team,
                "system",
                conv_id,
                {
                    "conversation_global_id": conv_id,
                    "last_team_at": iso_z(team),
                    "last_client_at": iso_z(client),
                },
            )
        )
    return rows


# --- linear -----------------------------------------------------------------------------------


def derive_linear_events(
    issues: Iterable[Any],
    window: SyncWindow,
    *,
    last_block_state: Mapping[str, str] | None = None,
    limit: int = 3000,
) -> list[EventLogRow]:
    def ts_of(r: Any) -> datetime | None:
        return parse_ts(get(r, "vendor_updated_at")) or parse_ts(get(r, "vendor_created_at"))

    state = dict(last_block_state or {})
    rows: list[EventLogRow] = []
    for _, issue in _in_window(issues, window, ts_of, limit):
        ext = str(get(issue, "external_id") or get(issue, "id") or "")
        if not ext:
            continue
        due = parse_date(get(issue, "due_date"))
        blocked = (
            bool(get(issue, "blocked", False)) or "blocked" in str(get(issue, "state", "") or "").lower()
        )
        payload = {
            "issue_id": get(issue, "id"),
            "external_id": ext,
            "title": get(issue, "title"),
            "state": get(issue, "state"),
            "blocked": blocked,
            "blocked_by_count": get(issue, "blocked_by_count"),
            "due_date": due.isoformat() if due else None,
            "completed_at": iso_z(parse_ts(get(issue, "completed_at"))),
        }
        extra = {"source_url": f"linear://issues/{ext}", "source_linear_issue_id": ext}
        created = parse_ts(get(issue, "vendor_created_at"))
        if window.contains(created):
            rows.append(_row("linear", "issue_created", created, "system", ext, dict(payload), **extra))  # type: ignore[arg-type]
        updated = parse_ts(get(issue, "vendor_updated_at"))
        if not window.contains(updated):
            continue
        if blocked and state.get(ext) != "issue_blocked":
            rows.append(_row("linear", "issue_blocked", updated, "system", ext, dict(payload), **extra))  # type: ignore[arg-type]
            state[ext] = "issue_blocked"
        elif not blocked and state.get(ext) == "issue_blocked":
            rows.append(_row("linear", "issue_unblocked", updated, "system", ext, dict(payload), **extra))  # type: ignore[arg-type]
            state[ext] = "issue_unblocked"
    return rows


# --- attio ------------------------------------------------------------------------------------


def _activity_type(raw: Any) -> str:
    lowered = str(raw or "").lower()
    if "invoice_paid" in lowered:
        return "invoice_paid"
    if "invoice_sent" in lowered:
        return "invoice_sent"
    if "note" in lowered:
        return "note_logged"
    return "activity_logged"


def derive_attio_events(
    deals: Iterable[Any],
    window: SyncWindow,
    *,
    activities: Iterable[Any] = (),
    last_deal_stage: Mapping[str, Any] | None = None,
    limit: int = 3000,
) -> list[EventLogRow]:
    def ts_of(r: Any) -> datetime | None:
        return parse_ts(get(r, "updated_at")) or parse_ts(get(r, "created_at"))

    stages = {k: stage_slug(v) for k, v in (last_deal_stage or {}).items()}
    rows: list[EventLogRow] = []
    for ts, deal in _in_window(deals, window, ts_of, limit):
        ext = str(get(deal, "external_id") or get(deal, "id") or "")
        if not ext:
            continue
        stage = get(deal, "stage")
        normalized = normalize_deal_stage(stage)
        if ext in stages and stages[ext] == stage_slug(stage):
            continue
        stages[ext] = stage_slug(stage)
        close = parse_date(get(deal, "expected_close_date"))
        payload = {
            "deal_id": get(deal, "id"),
            "stage": stage,
            "stage_normalized": normalized,
            "amount": to_number(get(deal, "amount"), allow_str=True),
            "probability": to_number(get(deal, "probability"), allow_str=True),
            "expected_close_date": close.isoformat() if close else None,
        }
        rows.append(
            _row(
                "attio",
                "deal_stage_changed",
                ts,
                "system",
                ext,
                payload,
                source_url=f"attio://deals/{ext}",
                source_attio_record_id=ext,
            )
        )
    for ts, act in _in_window(activities, window, ts_of, limit):
        ext = str(get(act, "external_id") or get(act, "id") or "")
        if not ext:
            continue
        occurred = parse_ts(get(act, "occurred_at")) or parse_ts(get(act, "updated_at")) or ts
        record = get(act, "record_external_id")
        payload = {
            "activity_type": get(act, "activity_type"),
            "record_external_id": record,
            "actor_name": get(act, "actor_name"),
            "snippet": str(get(act, "note", "") or "")[:300],
        }
        rows.append(
            _row(
                "attio",
                _activity_type(get(act, "activity_type")),
                occurred,
                "team",
                ext,
                payload,
                source_url=f"attio://activities/{ext}",
                source_attio_record_id=str(record) if record else None,
            )
        )
    return rows


# --- one run ----------------------------------------------------------------------------------


@dataclass
class EventLogSync:
    connector: str
    window: SyncWindow
    rows: list[EventLogRow] = field(default_factory=list)

    def result(self, inserted: int | None = None) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "generated": len(self.rows),
            "inserted": len(self.rows) if inserted is None else inserted,
            "since_ts": iso_z(self.window.since),
            "until_ts": iso_z(self.window.until),
        }


def derive_connector_events(
    connector: str,
    window: SyncWindow,
    *,
    messages: Iterable[Any] = (),
    conversation_activity: Iterable[Any] | None = None,
    issues: Iterable[Any] = (),
    last_block_state: Mapping[str, str] | None = None,
    deals: Iterable[Any] = (),
    activities: Iterable[Any] = (),
    last_deal_stage: Mapping[str, Any] | None = None,
    limit: Any = None,
) -> EventLogSync:
    """The rows one connector contributes for `window`; unknown connector → no rows."""
    n = clamp_limit(limit)
    if connector == "chatwoot":
        rows = derive_chatwoot_events(messages, window, conversation_activity=conversation_activity, limit=n)
    elif connector == "linear":
        rows = derive_linear_events(issues, window, last_block_state=last_block_state, limit=n)
    elif connector == "attio":
        rows = derive_attio_events(
            deals, window, activities=activities, last_deal_stage=last_deal_stage, limit=n
        )
    else:
        rows = []
    return EventLogSync(connector, window, rows)
