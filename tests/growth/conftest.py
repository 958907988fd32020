"""Fixtures for the Part B (growth) tests: a controllable clock and row helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from shared import timeutil
from shared.db.models.growth import ContactChannelPolicy, OutboundAttempt, OutboundMessage
from shared.db.models.platform import AuditEvent
from shared.runtime import Runtime
from shared.scope import Scope


class Clock:
    """``shared.timeutil.utcnow`` replacement: starts at the real time (whole seconds), moves on demand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    monkeypatch.setattr(timeutil, "utcnow", c)
    yield c


def scope_of(project: dict[str, Any]) -> Scope:
    return Scope.of(project["id"], project["account_scope_id"])


def audits(rt: Runtime, action: str | None = None, *, entity_id: str | None = None) -> list[AuditEvent]:
    with rt.sessions() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        if entity_id:
            stmt = stmt.where(AuditEvent.entity_id == entity_id)
        return list(s.scalars(stmt))


def policy_row(rt: Runtime, contact: str, channel: str = "email") -> ContactChannelPolicy | None:
    with rt.sessions() as s:
        return s.scalar(select(ContactChannelPolicy).filter_by(contact_global_id=contact, channel=channel))


def attempts(rt: Runtime, outbound_id: str) -> list[OutboundAttempt]:
    with rt.sessions() as s:
        return list(s.scalars(select(OutboundAttempt).filter_by(outbound_id=uuid.UUID(str(outbound_id)))
                              .order_by(OutboundAttempt.attempt_no)))


def message_row(rt: Runtime, outbound_id: str) -> OutboundMessage:
    with rt.sessions() as s:
        return s.get(OutboundMessage, uuid.UUID(str(outbound_id)))


def add_rows(rt: Runtime, *rows: Any) -> None:
    with rt.transaction() as s:
        s.add_all(rows)
