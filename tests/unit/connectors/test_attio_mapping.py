"""Attio value extraction and record mapping (connectors-rag §4.4), without HTTP or a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from jobs.connectors.attio import (
    attio_value,
    record_updated_at,
    to_account_row,
    to_amount,
    to_note_row,
    to_opportunity_row,
    to_person_row,
    to_probability,
)
from tests.emulators import attio as at

WS = "ws-1"
T = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def deal(**values: list) -> dict:
    base = {
        "name": [at.text("Phase 2", T)],
        "stage": at.stage_history([("Lead", T), ("Qualified", T + timedelta(days=3)),
                                   ("Won 🎉", T + timedelta(days=9))]),
        "value": [at.currency(12345.678, T)],
        "associated_company": [at.record_ref("companies", "comp-1", T)],
        "probability": [at.number(0.7, T + timedelta(days=9))],
        "expected_close_date": [at.date("2025-04-30", T)],
        "next_step": [at.text("Call the CTO", T + timedelta(days=10))],
    }
    base.update(values)
    return at.record("deals", "deal-1", workspace_id=WS, created_at=T, values=base)


def test_current_stage_is_the_active_entry_and_history_is_kept() -> None:
    rec = deal()
    assert attio_value(rec, "stage") == "Won 🎉"
    row = to_opportunity_row(rec, workspace_id=WS)
    assert row["id"] == "attiodeal:ws-1:deal-1" and row["external_id"] == "deal-1" and row["stage"] == "Won 🎉"
    assert [e["status"]["title"] for e in row["data"]["values"]["stage"]] == ["Lead", "Qualified", "Won 🎉"]
    assert row["amount"] == Decimal("12345.68") and row["probability"] == Decimal("0.7000")
    assert row["expected_close_date"] == date(2025, 4, 30) and row["account_external_id"] == "comp-1"
    assert row["next_step"] == "Call the CTO" and row["title"] == "Phase 2"
    assert row["updated_at"] == T + timedelta(days=10)  # the latest active_from of any entry


def test_deal_defaults_and_bad_values() -> None:
    rec = at.record("deals", "deal-2", workspace_id=WS, created_at=T, values={
        "probability": [at.number(7, T)], "value": [at.entry("text", T, value="n/a")],
        "close_date": [at.date("not a date", T)]})
    row = to_opportunity_row(rec, workspace_id=WS)
    assert row["title"] == "Opportunity deal-2" and row["stage"] == "discovery" and row["amount"] == Decimal("0.00")
    assert row["probability"] == Decimal("1.0000") and row["expected_close_date"] is None
    assert to_opportunity_row({**rec, "values": {}}, workspace_id=WS)["probability"] == Decimal("0.1")
    custom = to_opportunity_row(deal(target_close=[at.date("2026-01-02", T)]), workspace_id=WS,
                                close_date_attributes=("target_close",))
    assert custom["expected_close_date"] == date(2026, 1, 2)


def test_amounts_and_probabilities() -> None:
    assert to_amount(10.005) == Decimal("10.01") and to_amount("12") == Decimal("12.00")
    assert to_amount(float("nan")) == 0 and to_amount(None) == 0 and to_amount(1e15) == 0 and to_amount(True) == 0
    assert to_probability(-1) == 0 and to_probability("0.25") == Decimal("0.2500")
    assert to_probability(None) == Decimal("0.1")


def test_company_person_and_tolerated_shapes() -> None:
    company = at.record("companies", "comp-1", workspace_id=WS, created_at=T, values={
        "name": [at.text("Old name", T, T + timedelta(days=1)), at.text("Acme", T + timedelta(days=1))],
        "domains": [at.domain("acme.io", T)], "stage": [at.status("Active", T)],
        "annual_revenue": [at.currency(2_000_000, T)]})
    row = to_account_row(company, workspace_id=WS)
    assert (row["name"], row["domain"], row["stage"], row["annual_revenue"]) == ("Acme", "acme.io", "Active",
                                                                                  Decimal("2000000.00"))
    person = at.record("people", "p-1", workspace_id=WS, created_at=T, values={
        "name": [at.personal_name("Ирина", "Соколова", T)], "email_addresses": [at.email("Irina@Romashka.ru", T)],
        "job_title": [at.text("CMO", T)], "company": [at.record_ref("companies", "comp-1", T)]})
    p = to_person_row(person, workspace_id=WS)
    assert (p["full_name"], p["email"], p["role"], p["account_external_id"]) == (
        "Ирина Соколова", "irina@romashka.ru", "CMO", "comp-1")
    plain = {"id": "rec-9", "created_at": "2025-01-01T00:00:00Z", "values": {"name": "Scalar Co"}}
    assert to_account_row(plain, workspace_id=WS)["name"] == "Scalar Co"
    assert record_updated_at(plain) == datetime(2025, 1, 1, tzinfo=UTC)
    assert to_account_row({"id": {"record_id": ""}, "values": {}}, workspace_id=WS) is None
    name_only = {"id": "x", "values": {"name": [{"attribute_type": "personal-name", "first_name": "A",
                                                 "last_name": None, "active_until": None}]}}
    assert attio_value(name_only, "name") == "A"


def test_note_row() -> None:
    note = at.note("n-1", workspace_id=WS, parent_object="companies", parent_record_id="comp-1", title="Call",
                   content="Budget approved\x00.", created_at=T, actor_id="m-1")
    row = to_note_row(note, workspace_id=WS, max_chars=1000)
    assert row["id"] == "attioact:ws-1:n-1" and row["note"] == "Call\n\nBudget approved."
    assert row["record_external_id"] == "comp-1" and row["actor_name"] == "m-1" and row["occurred_at"] == T
    assert row["updated_at"] == T and row["activity_type"] == "note"
    assert to_note_row({**note, "title": "", "content_plaintext": "x" * 5000}, workspace_id=WS,
                       max_chars=1000)["note"] == "x" * 1000
    assert to_note_row({**note, "id": {"note_id": None}}, workspace_id=WS, max_chars=1000) is None
