"""Parameter parsing (§0.4), rounding (§0.6), evidence refs (§0.5) and the error contract."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shared.audit import evidence_index_rows
from shared.business import errors
from shared.business.dates import iso_utc, month_start, period_window, week_start
from shared.business.evidence import concat_refs, infer_source, normalize_evidence_refs, ref_id
from shared.business.numbers import json_number, money, ratio, round_half_up, to_decimal
from shared.business.params import (
    parse_bool,
    parse_bounded_number,
    parse_enum,
    parse_id_list,
    parse_iso_date,
    parse_lenient_int,
    parse_text,
)
from shared.errors import KeelError


@pytest.mark.parametrize(("raw", "expected"), [
    ("12abc", 12), ("7.9", 7), (" -3 ", 1), ("+8", 8), (7.9, 7), (True, 30), (None, 30), ("abc", 30),
    (float("nan"), 30), (float("inf"), 30), (10**9, 120), ([], 30),
])
def test_lenient_int(raw: object, expected: int) -> None:
    assert parse_lenient_int(raw, default=30, lo=1, hi=120) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    (None, Decimal("0.10")), ("", Decimal("0.10")), ("x", Decimal("0.10")), ("Infinity", Decimal("0.10")),
    (float("nan"), Decimal("0.10")), (False, Decimal("0.10")), ("2", Decimal("1.00")), (-1, Decimal("0.00")),
    ("0.125", Decimal("0.13")), (0.125, Decimal("0.13")),
])
def test_bounded_number(raw: object, expected: Decimal) -> None:
    assert parse_bounded_number(raw, default=Decimal("0.1"), lo=0, hi=1, places=2) == expected


def test_round_half_up_never_bankers() -> None:
    assert round_half_up(Decimal("2.5")) == 3 and round_half_up("0.5") == 1 and round_half_up(-2.5) == -3
    assert money("874.99125") == Decimal("874.99") and money("2.675") == Decimal("2.68")
    assert ratio(0.66666) == Decimal("0.6667")
    assert to_decimal(0.9) == Decimal("0.9") and to_decimal("nan") is None
    assert json_number(Decimal("10800.00")) == 10800 and json_number(5) == 5 and json_number(None) is None


def test_text_enum_and_dates() -> None:
    assert parse_text("  hi\x00 ", max_len=1) == "h" and parse_text("   ") is None and parse_text(3) is None
    assert parse_enum(" WON ", ["won"], error_code="invalid_stage") == "won"
    assert parse_enum(None, ["won"], error_code="x", default="won") == "won"
    with pytest.raises(errors.InvalidInput):
        parse_enum("nope", ["won"], error_code="invalid_stage")
    assert parse_iso_date(" 2026-02-17 ", error_code="d") == date(2026, 2, 17)
    assert parse_iso_date("", error_code="d") is None and parse_iso_date(None, error_code="d") is None
    for bad in ("2026-2-17", "2026-02-17T00:00:00Z", "17.02.2026", "2026-13-01"):
        with pytest.raises(errors.InvalidInput) as err:
            parse_iso_date(bad, error_code="invalid_expected_close_date")
        assert err.value.code == "invalid_expected_close_date"


def test_bool_and_id_lists() -> None:
    assert parse_bool(None, error_code="x") is None
    assert parse_bool("YES", error_code="x") is True and parse_bool(0, error_code="x") is False
    with pytest.raises(errors.InvalidInput):
        parse_bool(2, error_code="x")
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert parse_id_list([" x ", "", "y", "x"], max_items=10) == ["x", "y"]
    assert parse_id_list(f"{a}, bad ,{b.upper()},{a}", max_items=10, allow_csv=True, uuids=True) == [a, b]
    assert parse_id_list(["a", "b", "c"], max_items=2) == ["a", "b"]
    assert parse_id_list(42, max_items=2) == []


def test_calendar() -> None:
    assert week_start(date(2026, 2, 22)) == date(2026, 2, 16) and week_start(date(2026, 2, 23)) == date(2026, 2, 23)
    assert month_start(datetime(2026, 2, 17, 23, 0, tzinfo=UTC)) == date(2026, 2, 1)
    assert period_window(30, date(2026, 2, 17)) == (date(2026, 1, 18), date(2026, 2, 17))
    assert iso_utc(datetime(2026, 2, 17, 10, 0, 0, 123456, tzinfo=UTC)) == "2026-02-17T10:00:00.123Z"


@pytest.mark.parametrize(("ref", "table"), [
    ("cwmsg:1", "cw_messages"), ("cw:1", "cw_conversations"), ("cwc:1", "cw_contacts"),
    (str(uuid.UUID(int=7)), "rag_chunks"), ("attio:deal:1", "external"),
])
def test_infer_source(ref: str, table: str) -> None:
    assert infer_source(ref) == table


def test_normalize_evidence_refs() -> None:
    assert normalize_evidence_refs(None) == []
    for bad in ("cw:1", {"ref": "x"}, 5, True):
        with pytest.raises(errors.InvalidInput) as err:
            normalize_evidence_refs(bad)
        assert (err.value.status, err.value.code) == (400, "invalid_evidence_refs")
    refs = normalize_evidence_refs([
        " cw:1 ", "", 7, None,
        {"source_ref": " cwmsg:9 ", "source_type": "Chatwoot", "snippet": "s" * 1500, "meta": {"x": 1}},
        {"id": 42, "meta": "not-an-object"},
        {"ref": "  ", "id": "fallback"},
        {"snippet": "no ref"},
        "cw:1",
    ])
    assert [(r["source"], r["ref"]) for r in refs] == [
        ("cw_conversations", "cw:1"), ("chatwoot", "cwmsg:9"), ("external", "42"), ("external", "fallback")]
    assert refs[0] == {"source": "cw_conversations", "ref": "cw:1", "snippet": None, "meta": {}}
    assert len(refs[1]["snippet"]) == 1000 and refs[1]["meta"] == {"x": 1} and refs[2]["meta"] == {}
    many = normalize_evidence_refs([f"r{i}" for i in range(80)] + ["r0"])
    assert len(many) == 50 and many[-1]["ref"] == "r49"


def test_evidence_index_rows_merge_like_sequential_upserts() -> None:
    refs = normalize_evidence_refs([
        {"ref": "cwmsg:1", "source": "a", "snippet": "first", "meta": {"k": 1}},
        {"ref": "cwmsg:1", "source": "b"},  # same table/pk, new source_type, null snippet keeps "first"
        "cwc:5",
    ])
    rows = evidence_index_rows(refs)
    assert len(rows) == 2
    msg = rows[0]
    assert (msg["source_type"], msg["source_table"], msg["source_pk"], msg["snippet"]) == (
        "b", "cw_messages", "cwmsg:1", "first")
    assert msg["message_global_id"] == "cwmsg:1" and msg["conversation_global_id"] is None
    assert msg["payload"]["k"] == 1
    assert rows[1]["contact_global_id"] == "cwc:5" and rows[1]["payload"] is None


def test_ref_helpers() -> None:
    assert ref_id(" cw:1 ") == "cw:1" and ref_id({"ref": "x"}) == "x" and ref_id(3) is None
    assert concat_refs([["a", "b"], None, ["c"]], limit=2) == ["a", "b"]


@pytest.mark.parametrize(("exc", "status", "code"), [
    (errors.OfferInvalidState(), 409, "offer_invalid_state"),
    (errors.DiscountApprovalRequired(), 409, "discount_approval_required"),
    (errors.OutboundInvalidState(), 409, "outbound_invalid_state"),
    (errors.OutboundBlockedOptOut(), 409, "outbound_blocked_opt_out"),
    (errors.OutboundBlockedStopOnReply(), 409, "outbound_blocked_stop_on_reply"),
    (errors.OutboundDuplicate("id-1"), 409, "outbound_duplicate"),
    (errors.FrequencyCapReached(), 429, "frequency_cap_reached"),
    (errors.OutboundSendFailed(), 502, "outbound_send_failed"),
    (errors.AccountNameConflict(), 409, "account_name_conflict"),
    (errors.InvalidInput("invalid_stage"), 400, "invalid_stage"),
    (errors.NotFound("offer_not_found"), 404, "offer_not_found"),
])
def test_errors_carry_code_and_status_for_the_web_layer(exc: KeelError, status: int, code: str) -> None:
    assert isinstance(exc, KeelError)
    assert (exc.status, exc.code) == (status, code)
    assert exc.message
