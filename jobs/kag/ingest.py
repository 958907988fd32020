"""Graph ingest (kag.md §4.2): connector rows + the previously stored nodes → graph nodes, edges
and graph events, with deterministic identities and dedupe keys.

Wiring (stage `ingest` of `kag_recommendations_refresh`, one transaction):
1. For each source read its cursor from `kag_ingest_cursors` and the rows changed since it
   (`window_start(cursor, now, lookback)`; ascending, ≤2000 per source), the chunk ids per
   message (`rag_chunks` by `message_global_id`, ordered by `chunk_index`), and the stored
   `kag_nodes` the rows may touch (blocker and finance nodes; `PriorNode.from_row`).
2. `batch = ingest_rows(...)`.
3. Upsert `batch.nodes` on `(project_id, node_type, node_key)`, collect `node_ref → id`;
   `batch.edge_rows(ids)` upsert on `(project_id, from_node_id, to_node_id, relation_type)`;
   `batch.event_rows(ids)` insert `ON CONFLICT (project_id, dedupe_key) DO NOTHING`;
   `evidence.provenance_rows(kind, row_id, refs)` for each written object (conflicts ignored);
   save `batch.cursors`. Warnings (`extractor_failed`) become process warnings.

Identities (decisions where the spec says only "id"):
- messages: `message_id` = the message global id (`cw_messages.id`, connectors-rag §0.2 — unique
  per project and the key of `rag_chunks.message_global_id`); `source_pk` = the same id.
- Linear: `linear_issue_id` and the `task:`/`blocker:` keys use the vendor `external_id` (fallback
  `id`); `source_pk` = the row id. Attio: `attio_record_id` and `deal:`/`finance:` keys use
  `external_id` (fallback `id`); `source_pk` = the row id.

Events only on a real change (decision, so re-reading unchanged rows emits nothing new):
- `task_blocked` only when no **active** blocker node exists for the issue;
- `blocker_resolved` only when one does (spec);
- `deal_updated` only on first sighting or when stage/amount/probability differ from the stored node;
- `finance_entry_created` on first appearance (`revenue`) or amount change (`revenue_adjustment`,
  signed; an amount dropping to ≤0 is an adjustment to 0);
- message-derived events are keyed on the message creation time, so re-reads dedupe.
Extracted item keys are `<message_id>:<kind>:<i>` with `i` counted from 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobs.kag.events_log import KagWarning
from jobs.kag.evidence import CAP_GRAPH, chunk_ref, merge_refs, normalize_refs, primary_id
from jobs.kag.keys import sha1hex
from jobs.kag.rounding import to_number
from jobs.kag.rows import field as get
from jobs.kag.stages import is_closed_stage
from jobs.kag.timeutil import iso_z, parse_date, parse_ts
from jobs.kag.vocab import WarningCode, normalize_node_status

__all__ = [
    "KEYWORD_FALLBACK",
    "GraphEdge",
    "GraphEvent",
    "GraphNode",
    "IngestBatch",
    "PriorNode",
    "event_dedupe_key",
    "extract_findings",
    "ingest_rows",
    "normalize_text",
    "sender_kind",
    "split_node_ref",
    "window_start",
]

PROJECT_REF = "project:project"
MAX_ROWS_PER_SOURCE = 2000
_WS = re.compile(r"\s+")

KEYWORD_FALLBACK: dict[str, tuple[str, ...]] = {
    "agreement": ("agreement", "agreed", "соглас", "подтвердил", "подтверждаем"),
    "decision": ("decision", "decided", "решили", "решение", "утверждено"),
    "risk": ("risk", "blocked", "blocker", "late", "delay", "риск", "задерж"),
    "scope_change": ("out of scope", "outside scope", "дополнительно", "вне скоупа", "доработк"),
    "need": ("upgrade", "addon", "add-on", "expand", "upsell", "доп модул", "новый модул"),
}


def normalize_text(value: Any, max_len: int) -> str | None:
    """Collapse whitespace, trim, cut to `max_len`; empty → None."""
    if value is None:
        return None
    text = _WS.sub(" ", str(value)).strip()
    return text[:max_len] if text else None


def split_node_ref(ref: str) -> tuple[str, str]:
    """`"<node_type>:<node_key>"` split on the first colon (keys may contain colons)."""
    node_type, _, node_key = ref.partition(":")
    return node_type, node_key


def sender_kind(sender_type: Any) -> str:
    """`client` / `team` / `system` from a Chatwoot `sender_type` (§4.2)."""
    lowered = str(sender_type or "").lower()
    if "contact" in lowered or "customer" in lowered:
        return "client"
    if "agent" in lowered or "user" in lowered or "team" in lowered:
        return "team"
    return "system"


def window_start(cursor: datetime | None, now: datetime, lookback_days: int) -> datetime:
    """Rows with `ts >= window_start` are read (first run: `now - lookback`)."""
    return cursor if cursor is not None else now - timedelta(days=lookback_days)


def event_dedupe_key(
    event_type: str, subject_ref: str | None, event_ts: datetime, refs: list[dict[str, Any]]
) -> str:
    first = primary_id(refs[0]) if refs else ""
    return sha1hex(f"{event_type}|{subject_ref or ''}|{iso_z(event_ts)}|{first}")


# --- value types ------------------------------------------------------------------------------


@dataclass
class GraphNode:
    node_type: str
    node_key: str
    status: str = "active"
    title: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    numeric_fields: dict[str, float] = field(default_factory=dict)
    source_refs: list[dict[str, Any]] = field(default_factory=list)
    rag_chunk_refs: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.node_type}:{self.node_key}"

    def merge(self, other: GraphNode) -> None:
        self.payload.update(other.payload)
        self.numeric_fields.update(other.numeric_fields)
        self.source_refs = merge_refs(self.source_refs, other.source_refs, cap=CAP_GRAPH)
        self.rag_chunk_refs = _unique(self.rag_chunk_refs + other.rag_chunk_refs)[:CAP_GRAPH]
        self.title = other.title or self.title
        self.status = other.status

    def to_row(self) -> dict[str, Any]:
        return {
            "node_type": self.node_type,
            "node_key": self.node_key,
            "status": normalize_node_status(self.status),
            "title": self.title,
            "payload": dict(self.payload),
            "numeric_fields": dict(self.numeric_fields),
            "source_refs": [dict(r) for r in self.source_refs],
            "rag_chunk_refs": list(self.rag_chunk_refs),
        }


@dataclass
class GraphEdge:
    from_ref: str
    to_ref: str
    relation_type: str
    status: str = "active"
    weight: float = 1.0
    payload: dict[str, Any] = field(default_factory=dict)
    source_refs: list[dict[str, Any]] = field(default_factory=list)
    rag_chunk_refs: list[str] = field(default_factory=list)

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.from_ref, self.to_ref, self.relation_type)

    def merge(self, other: GraphEdge) -> None:
        self.payload.update(other.payload)
        self.source_refs = merge_refs(self.source_refs, other.source_refs, cap=CAP_GRAPH)
        self.rag_chunk_refs = _unique(self.rag_chunk_refs + other.rag_chunk_refs)[:CAP_GRAPH]
        self.status = other.status
        self.weight = other.weight


@dataclass
class GraphEvent:
    event_type: str
    event_ts: datetime
    subject_ref: str | None
    payload: dict[str, Any]
    source_refs: list[dict[str, Any]]
    rag_chunk_refs: list[str]
    dedupe_key: str
    actor_ref: str | None = None


@dataclass(frozen=True)
class PriorNode:
    """The stored state of a node the ingest compares against (from `kag_nodes`)."""

    status: str = "active"
    payload: Mapping[str, Any] = field(default_factory=dict)
    numeric_fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Any) -> PriorNode:
        return cls(
            status=str(get(row, "status", "active")),
            payload=dict(get(row, "payload", {}) or {}),
            numeric_fields=dict(get(row, "numeric_fields", {}) or {}),
        )


def _unique(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v and v not in out:
            out.append(v)
    return out


@dataclass
class IngestBatch:
    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)
    events: list[GraphEvent] = field(default_factory=list)
    warnings: list[KagWarning] = field(default_factory=list)
    cursors: dict[str, datetime | None] = field(default_factory=dict)

    def node_rows(self) -> list[dict[str, Any]]:
        return [n.to_row() for n in self.nodes]

    def edge_rows(self, node_ids: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Edge rows with resolved node ids; edges with an unresolved end are dropped."""
        rows = []
        for e in self.edges:
            if e.from_ref not in node_ids or e.to_ref not in node_ids:
                continue
            rows.append(
                {
                    "from_node_id": node_ids[e.from_ref],
                    "to_node_id": node_ids[e.to_ref],
                    "relation_type": e.relation_type,
                    "status": e.status if e.status in ("active", "inactive") else "active",
                    "weight": min(max(e.weight, 0.0), 1.0),
                    "payload": dict(e.payload),
                    "source_refs": [dict(r) for r in e.source_refs],
                    "rag_chunk_refs": list(e.rag_chunk_refs),
                }
            )
        return rows

    def event_rows(self, node_ids: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Event rows; an unresolved subject/actor becomes null."""
        return [
            {
                "event_type": ev.event_type,
                "event_ts": ev.event_ts,
                "subject_node_id": node_ids.get(ev.subject_ref) if ev.subject_ref else None,
                "actor_node_id": node_ids.get(ev.actor_ref) if ev.actor_ref else None,
                "status": "open",
                "payload": dict(ev.payload),
                "source_refs": [dict(r) for r in ev.source_refs],
                "rag_chunk_refs": list(ev.rag_chunk_refs),
                "dedupe_key": ev.dedupe_key,
            }
            for ev in self.events
        ]

    def result(
        self,
        *,
        nodes_upserted: int | None = None,
        edges_upserted: int | None = None,
        events_inserted: int | None = None,
        provenance_inserted: int = 0,
    ) -> dict[str, Any]:
        return {
            "nodes_upserted": len(self.nodes) if nodes_upserted is None else nodes_upserted,
            "edges_upserted": len(self.edges) if edges_upserted is None else edges_upserted,
            "events_inserted": len(self.events) if events_inserted is None else events_inserted,
            "provenance_inserted": provenance_inserted,
            "cursors": {k: iso_z(v) for k, v in self.cursors.items()},
        }


class _Builder:
    def __init__(self, prior: Mapping[str, PriorNode]) -> None:
        self.nodes: dict[str, GraphNode] = {}
        self.edges: dict[tuple[str, str, str], GraphEdge] = {}
        self.events: dict[str, GraphEvent] = {}
        self.prior = dict(prior)

    def node(self, node: GraphNode) -> str:
        node.source_refs = normalize_refs(node.source_refs, CAP_GRAPH)
        node.rag_chunk_refs = _unique(node.rag_chunk_refs)[:CAP_GRAPH]
        if node.ref in self.nodes:
            self.nodes[node.ref].merge(node)
        else:
            self.nodes[node.ref] = node
        return node.ref

    def edge(
        self,
        from_ref: str,
        to_ref: str,
        relation: str,
        refs: list[dict[str, Any]],
        chunks: list[str],
        status: str = "active",
    ) -> None:
        edge = GraphEdge(
            from_ref,
            to_ref,
            relation,
            status,
            1.0,
            {},
            normalize_refs(refs, CAP_GRAPH),
            _unique(chunks)[:CAP_GRAPH],
        )
        if edge.identity in self.edges:
            self.edges[edge.identity].merge(edge)
        else:
            self.edges[edge.identity] = edge

    def event(
        self,
        event_type: str,
        ts: datetime,
        subject: str | None,
        payload: dict[str, Any],
        refs: list[dict[str, Any]],
        chunks: list[str],
    ) -> None:
        refs = normalize_refs(refs, CAP_GRAPH)
        key = event_dedupe_key(event_type, subject, ts, refs)
        if key not in self.events:
            self.events[key] = GraphEvent(
                event_type, ts, subject, payload, refs, _unique(chunks)[:CAP_GRAPH], key
            )

    def prior_node(self, ref: str) -> PriorNode | None:
        built = self.nodes.get(ref)
        if built is not None:
            return PriorNode(built.status, built.payload, built.numeric_fields)
        return self.prior.get(ref)


# --- extraction -------------------------------------------------------------------------------

Extractor = Callable[[dict[str, Any]], Mapping[str, Any]]


def extract_findings(text: str) -> dict[str, Any]:
    """Keyword fallback of §4.2 in the extractor's output shape."""
    lowered = text.lower()

    def hit(kind: str) -> bool:
        return any(k in lowered for k in KEYWORD_FALLBACK[kind])

    return {
        "agreements": [{"confidence": 0.6, "due_at": None}] if hit("agreement") else [],
        "decisions": [{"confidence": 0.6}] if hit("decision") else [],
        "risks": [{"confidence": 0.65, "severity": 3}] if hit("risk") else [],
        "scope_change": hit("scope_change"),
        "need_detected": hit("need"),
    }


def _clean_findings(raw: Any) -> dict[str, Any]:
    raw = raw if isinstance(raw, Mapping) else {}

    def items(name: str) -> list[Mapping[str, Any]]:
        value = raw.get(name)
        return [i for i in value if isinstance(i, Mapping)] if isinstance(value, list) else []

    return {
        "agreements": items("agreements"),
        "decisions": items("decisions"),
        "risks": items("risks"),
        "scope_change": raw.get("scope_change") is True,
        "need_detected": raw.get("need_detected") is True,
    }


# --- sources ----------------------------------------------------------------------------------


def _message_deleted(row: Any) -> bool:
    data = get(row, "data", {})
    if not isinstance(data, Mapping):
        return False
    attrs = data.get("content_attributes")
    return bool(data.get("deleted")) or (isinstance(attrs, Mapping) and bool(attrs.get("deleted")))


def _ingest_message(
    b: _Builder, row: Any, chunk_ids: list[str], extractor: Extractor | None, warnings: list[KagWarning]
) -> None:
    message_id = str(get(row, "id") or get(row, "message_id") or "").strip()
    created = parse_ts(get(row, "created_at")) or parse_ts(get(row, "updated_at"))
    if not message_id or created is None:
        return
    chunks = [str(c) for c in chunk_ids if c]
    refs = normalize_refs(
        [{"message_id": message_id, "source_table": "cw_messages", "source_pk": message_id}]
        + [chunk_ref(c) for c in chunks]
    )
    content = str(get(row, "content", "") or "")
    conv_key = str(get(row, "conversation_global_id") or f"conversation:{message_id}")
    conv_ref = b.node(GraphNode("conversation", conv_key, source_refs=refs, rag_chunk_refs=chunks))
    message_ref = b.node(
        GraphNode(
            "message",
            message_id,
            title=normalize_text(content, 140),
            payload={
                "sender_type": get(row, "sender_type"),
                "created_at": iso_z(created),
                "content": normalize_text(content, 1200),
            },
            source_refs=refs,
            rag_chunk_refs=chunks,
        )
    )
    b.edge(PROJECT_REF, conv_ref, "project_has_conversation", refs, chunks)
    b.edge(conv_ref, message_ref, "conversation_has_message", refs, chunks)

    payload: dict[str, Any] = {"sender": sender_kind(get(row, "sender_type")), "conversation_id": conv_key}
    data = get(row, "data", {})
    sentiment = data.get("sentiment_score") if isinstance(data, Mapping) else None
    if to_number(sentiment) is not None:
        payload["sentiment_score"] = float(sentiment)  # type: ignore[arg-type]
    b.event("message_sent", created, message_ref, payload, refs, chunks)

    text = content[:8000]
    findings: dict[str, Any]
    if extractor is not None:
        try:
            findings = _clean_findings(
                extractor(
                    {
                        "message_id": message_id,
                        "conversation_global_id": get(row, "conversation_global_id"),
                        "text": text,
                    }
                )
            )
        except Exception as exc:  # noqa: BLE001 - any extractor failure falls back to keywords
            warnings.append(
                KagWarning(
                    WarningCode.EXTRACTOR_FAILED,
                    f"extractor failed: {type(exc).__name__}",
                    {"message_id": message_id, "error": str(exc)[:500]},
                )
            )
            findings = extract_findings(text)
    else:
        findings = extract_findings(text)

    for kind, plural, event_type in (
        ("agreement", "agreements", "agreement_created"),
        ("decision", "decisions", "decision_made"),
        ("risk", "risks", "risk_detected"),
    ):
        for i, item in enumerate(findings[plural]):
            key = str(item.get("id") or f"{message_id}:{kind}:{i}")
            confidence = to_number(item.get("confidence"), allow_str=True)
            node_payload: dict[str, Any] = {"message_id": message_id, "confidence": confidence}
            event_payload: dict[str, Any] = {f"{kind}_id": key}
            if kind == "agreement":
                due = parse_ts(item.get("due_at"))
                node_payload["due_at"] = event_payload["due_at"] = iso_z(due)
                amount = to_number(item.get("amount"), allow_str=True)
                if amount is not None:
                    node_payload["amount"] = amount
            if kind == "risk":
                severity = int(to_number(item.get("severity"), allow_str=True) or 3)
                node_payload["severity"] = event_payload["severity"] = severity
            event_payload["confidence"] = confidence
            node_ref = b.node(
                GraphNode(
                    kind,
                    key,
                    status=normalize_node_status(item.get("status") or "active"),
                    title=normalize_text(item.get("title"), 500) or normalize_text(content, 140),
                    payload=node_payload,
                    source_refs=refs,
                    rag_chunk_refs=chunks,
                )
            )
            b.edge(PROJECT_REF, node_ref, f"project_has_{kind}", refs, chunks)
            b.event(event_type, created, node_ref, event_payload, refs, chunks)
    if findings["scope_change"]:
        b.event(
            "scope_change_requested",
            created,
            message_ref,
            {"request_from": "conversation", "message_id": message_id},
            refs,
            chunks,
        )
    if findings["need_detected"]:
        b.event(
            "need_detected",
            created,
            message_ref,
            {"source": "conversation", "message_id": message_id},
            refs,
            chunks,
        )


def _ingest_issue(b: _Builder, row: Any, now: datetime) -> None:
    ext = str(get(row, "external_id") or get(row, "id") or "").strip()
    if not ext:
        return
    refs = normalize_refs(
        [{"linear_issue_id": ext, "source_table": "linear_issues_raw", "source_pk": get(row, "id")}]
    )
    completed = parse_ts(get(row, "completed_at"))
    state = get(row, "state")
    ts = parse_ts(get(row, "vendor_updated_at")) or parse_ts(get(row, "vendor_created_at")) or now
    due = parse_date(get(row, "due_date"))
    task_ref = b.node(
        GraphNode(
            "task",
            ext,
            status="inactive" if completed else "active",
            title=normalize_text(get(row, "title"), 500),
            payload={
                "due_date": due.isoformat() if due else None,
                "completed_at": iso_z(completed),
                "state": state,
            },
            source_refs=refs,
        )
    )
    b.edge(PROJECT_REF, task_ref, "project_has_task", refs, [])
    blocked = bool(get(row, "blocked", False)) or "blocked" in str(state or "").lower()
    blocker_key = f"blocker:{ext}"
    blocker_ref = f"blocker:{blocker_key}"
    prior = b.prior_node(blocker_ref)
    was_active = prior is not None and prior.status == "active"
    payload = {"blocker_id": blocker_key, "task_id": ext}
    if blocked and not completed:
        b.node(
            GraphNode(
                "blocker",
                blocker_key,
                title=normalize_text(get(row, "title"), 500),
                payload=dict(payload),
                source_refs=refs,
            )
        )
        b.edge(task_ref, blocker_ref, "task_blocked_by_blocker", refs, [])
        if not was_active:
            b.event("task_blocked", ts, blocker_ref, dict(payload), refs, [])
    elif was_active:
        b.node(GraphNode("blocker", blocker_key, status="inactive", payload=dict(payload), source_refs=refs))
        b.edge(task_ref, blocker_ref, "task_blocked_by_blocker", refs, [], status="inactive")
        b.event("blocker_resolved", ts, blocker_ref, dict(payload), refs, [])


def _ingest_deal(b: _Builder, row: Any, now: datetime) -> None:
    ext = str(get(row, "external_id") or get(row, "id") or "").strip()
    if not ext:
        return
    refs = normalize_refs(
        [{"attio_record_id": ext, "source_table": "attio_opportunities_raw", "source_pk": get(row, "id")}]
    )
    ts = parse_ts(get(row, "updated_at")) or parse_ts(get(row, "created_at")) or now
    stage = get(row, "stage")
    amount = to_number(get(row, "amount"), allow_str=True) or 0.0
    probability = to_number(get(row, "probability"), allow_str=True)
    deal_ref = f"deal:{ext}"
    prior_deal = b.prior_node(deal_ref)
    deal_payload = {"stage": stage, "amount": amount, "probability": probability}
    b.node(
        GraphNode(
            "deal",
            ext,
            status="inactive" if is_closed_stage(stage) else "active",
            title=normalize_text(get(row, "title"), 500),
            payload=dict(deal_payload),
            numeric_fields={
                "amount": amount,
                **({"probability": probability} if probability is not None else {}),
            },
            source_refs=refs,
        )
    )
    b.edge(PROJECT_REF, deal_ref, "project_has_deal", refs, [])
    changed = prior_deal is None or any(
        _differs(prior_deal.payload.get(k), v) for k, v in deal_payload.items()
    )
    if changed:
        b.event("deal_updated", ts, deal_ref, {"deal_id": ext, **deal_payload}, refs, [])

    finance_key = f"finance:{ext}"
    finance_ref = f"finance_entry:{finance_key}"
    prior_fin = b.prior_node(finance_ref)
    old = to_number(prior_fin.numeric_fields.get("amount"), allow_str=True) if prior_fin is not None else None
    if amount > 0 or (old is not None and old != 0):
        new_amount = amount if amount > 0 else 0.0
        b.node(
            GraphNode(
                "finance_entry",
                finance_key,
                status="active" if new_amount > 0 else "inactive",
                payload={"entry_type": "revenue"},
                numeric_fields={"amount": new_amount},
                source_refs=refs,
            )
        )
        b.edge(PROJECT_REF, finance_ref, "project_has_finance_entry", refs, [])
        if prior_fin is None or old is None:
            b.event(
                "finance_entry_created",
                ts,
                finance_ref,
                {"entry_type": "revenue", "amount": new_amount},
                refs,
                [],
            )
        elif new_amount != old:
            b.event(
                "finance_entry_created",
                ts,
                finance_ref,
                {"entry_type": "revenue_adjustment", "amount": new_amount - old},
                refs,
                [],
            )


def _differs(old: Any, new: Any) -> bool:
    a, b = to_number(old, allow_str=True), to_number(new, allow_str=True)
    if a is not None or b is not None:
        return a != b
    return (old or None) != (new or None)


def _max_ts(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def ingest_rows(
    *,
    now: datetime,
    messages: Iterable[Any] = (),
    chunk_ids_by_message: Mapping[str, list[str]] | None = None,
    linear_issues: Iterable[Any] = (),
    deals: Iterable[Any] = (),
    prior_nodes: Mapping[str, PriorNode | Any] | None = None,
    extractor: Extractor | None = None,
    cursors: Mapping[str, datetime | None] | None = None,
    project_name: str | None = None,
) -> IngestBatch:
    """Derive the graph batch for one project run (pure; see the module docstring)."""
    prior = {
        ref: (p if isinstance(p, PriorNode) else PriorNode.from_row(p))
        for ref, p in (prior_nodes or {}).items()
    }
    b = _Builder(prior)
    b.node(GraphNode("project", "project", title=normalize_text(project_name, 500)))
    warnings: list[KagWarning] = []
    new_cursors: dict[str, datetime | None] = dict(cursors or {})
    chunks_by = chunk_ids_by_message or {}

    def msg_ts(r: Any) -> datetime | None:
        return parse_ts(get(r, "updated_at")) or parse_ts(get(r, "created_at"))

    def issue_ts(r: Any) -> datetime | None:
        return parse_ts(get(r, "vendor_updated_at")) or parse_ts(get(r, "vendor_created_at"))

    epoch = datetime.fromtimestamp(0, tz=now.tzinfo)
    message_rows = sorted(
        (m for m in messages if not bool(get(m, "private", False)) and not _message_deleted(m)),
        key=lambda r: (msg_ts(r) or epoch, str(get(r, "id"))),
    )[:MAX_ROWS_PER_SOURCE]
    for m in message_rows:
        _ingest_message(b, m, list(chunks_by.get(str(get(m, "id")), [])), extractor, warnings)
        new_cursors["chatwoot_messages"] = _max_ts(new_cursors.get("chatwoot_messages"), msg_ts(m))

    issue_rows = sorted(linear_issues, key=lambda r: (issue_ts(r) or epoch, str(get(r, "id"))))[
        :MAX_ROWS_PER_SOURCE
    ]
    for issue in issue_rows:
        _ingest_issue(b, issue, now)
        new_cursors["linear_issues"] = _max_ts(new_cursors.get("linear_issues"), issue_ts(issue))

    deal_rows = sorted(deals, key=lambda r: (msg_ts(r) or epoch, str(get(r, "id"))))[:MAX_ROWS_PER_SOURCE]
    for deal in deal_rows:
        _ingest_deal(b, deal, now)
        new_cursors["attio_deals"] = _max_ts(new_cursors.get("attio_deals"), msg_ts(deal))

    return IngestBatch(
        nodes=list(b.nodes.values()),
        edges=list(b.edges.values()),
        events=sorted(b.events.values(), key=lambda e: e.event_ts),  # stable: build order within a ts
        warnings=warnings,
        cursors=new_cursors,
    )
