"""Process events of the KAG event log (kag.md §5.2) and the warning value every stage returns.

Rows produced here go to `kag_event_log` with `source="system"`, `actor="system"`,
`source_ref=<job_type>` and `ON CONFLICT (project_id, dedupe_key) DO NOTHING`.

`ProcessEventRecorder` is what the KAG decorator (wiring phase) holds for one handler run: it
numbers warnings (`n` = running warning index starting at 0; 0 for the other types) so the dedupe
key `sha1hex("system|<event_type>|<job_run_id>|<attempt>|<n>")` is stable when a run is replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.kag.keys import sha1hex
from jobs.kag.rows import field as get
from jobs.kag.vocab import PROCESS_EVENT_TYPES, WarningCode

__all__ = [
    "EventLogRow",
    "KagWarning",
    "ProcessContext",
    "ProcessEventRecorder",
    "is_process_event",
    "process_dedupe_key",
]


@dataclass(frozen=True)
class KagWarning:
    """A non-fatal quality issue found by a pure stage; becomes one `process_warning`."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "message": self.message, "details": dict(self.details)}


@dataclass(frozen=True)
class EventLogRow:
    """One `kag_event_log` row (scope columns and `id`/`created_at` are the writer's)."""

    event_type: str
    occurred_at: datetime
    actor: str
    source: str
    source_ref: str
    dedupe_key: str
    payload_json: dict[str, Any] = field(default_factory=dict)
    source_url: str | None = None
    source_message_id: str | None = None
    source_linear_issue_id: str | None = None
    source_attio_record_id: str | None = None

    def to_row(self) -> dict[str, Any]:
        return {
            "event_type": self.event_type,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "source": self.source,
            "source_ref": self.source_ref,
            "source_url": self.source_url,
            "source_message_id": self.source_message_id,
            "source_linear_issue_id": self.source_linear_issue_id,
            "source_attio_record_id": self.source_attio_record_id,
            "payload_json": dict(self.payload_json),
            "dedupe_key": self.dedupe_key,
        }


def is_process_event(row: Any) -> bool:
    """True for `process_*` rows (excluded from aggregates, n-grams and outcomes)."""
    event_type = str(get(row, "event_type", ""))
    return event_type in PROCESS_EVENT_TYPES or event_type.startswith("process_")


def process_dedupe_key(event_type: str, job_run_id: Any, attempt: int, n: int = 0) -> str:
    return sha1hex(f"system|{event_type}|{job_run_id}|{attempt}|{n}")


@dataclass(frozen=True)
class ProcessContext:
    """What the platform wrapper knows about the run (platform §7.5)."""

    job_run_id: Any
    job_type: str
    queue: str
    trigger: str = "manual"
    attempt: int = 1
    rq_job_id: str | None = None
    parent_job_run_id: Any = None

    def base_payload(self) -> dict[str, Any]:
        return {
            "job_run_id": self.job_run_id,
            "rq_job_id": self.rq_job_id,
            "job_type": self.job_type,
            "queue": self.queue,
            "trigger": self.trigger,
            "attempt": self.attempt,
            "parent_job_run_id": self.parent_job_run_id,
        }


@dataclass
class ProcessEventRecorder:
    """Builds the §5.2 rows of one handler run; `rows` is what the writer inserts."""

    context: ProcessContext
    rows: list[EventLogRow] = field(default_factory=list)
    _warning_index: int = 0

    def _row(
        self, event_type: str, occurred_at: datetime, payload: dict[str, Any], n: int = 0
    ) -> EventLogRow:
        row = EventLogRow(
            event_type=event_type,
            occurred_at=occurred_at,
            actor="system",
            source="system",
            source_ref=self.context.job_type,
            dedupe_key=process_dedupe_key(event_type, self.context.job_run_id, self.context.attempt, n),
            payload_json=payload,
        )
        self.rows.append(row)
        return row

    def started(self, occurred_at: datetime) -> EventLogRow:
        return self._row("process_started", occurred_at, self.context.base_payload())

    def finished(
        self,
        occurred_at: datetime,
        *,
        duration_ms: int,
        counters: Mapping[str, Any] | None = None,
        skipped: str | None = None,
    ) -> EventLogRow:
        payload = self.context.base_payload() | {
            "duration_ms": int(duration_ms),
            "counters": dict(counters or {}),
            "skipped": skipped,
        }
        return self._row("process_finished", occurred_at, payload)

    def failed(self, occurred_at: datetime, *, duration_ms: int, error: BaseException) -> EventLogRow:
        payload = self.context.base_payload() | {
            "duration_ms": int(duration_ms),
            "error": {"type": type(error).__name__, "message": str(error)[:1000]},
        }
        return self._row("process_failed", occurred_at, payload)

    def warning(self, occurred_at: datetime, warning: KagWarning) -> EventLogRow:
        n = self._warning_index
        self._warning_index += 1
        payload = self.context.base_payload() | {"warning": warning.to_dict()}
        return self._row("process_warning", occurred_at, payload, n)

    def warnings(self, occurred_at: datetime, warnings: list[KagWarning]) -> list[EventLogRow]:
        return [self.warning(occurred_at, w) for w in warnings]


def no_evidence_warning(stage: str, dropped: Mapping[str, int]) -> KagWarning | None:
    """The `no_evidence_dropped` warning for one stage, or None when nothing was dropped."""
    if not dropped or not sum(dropped.values()):
        return None
    return KagWarning(
        WarningCode.NO_EVIDENCE_DROPPED,
        f"{sum(dropped.values())} {stage} candidate(s) dropped without evidence: {', '.join(dropped)}",
        {"stage": stage, "dropped": dict(dropped), "categories": list(dropped)},
    )
