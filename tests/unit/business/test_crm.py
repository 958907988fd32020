"""CRM: stage vocabulary, validation and transitions (business.md §A1, §F CRM, connectors-rag §4.6)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from shared.business.crm import (
    OPPORTUNITY_STAGES,
    crm_stage_for_deal,
    ensure_account_name_available,
    is_open_deal_stage,
    links_by_status,
    mirror_account_stage,
    normalize_stage_title,
    opportunity_by_stage,
    opportunity_stage_filter,
    transition_opportunity_stage,
    validate_account_create,
    validate_opportunity_create,
    validate_stage_update,
)
from shared.business.errors import AccountNameConflict, InvalidInput, NotFound

ACCOUNT = str(uuid.uuid4())


def opp(**overrides: object) -> dict:
    return {"title": "Redesign", "account_id": ACCOUNT, "next_step": "Send the proposal", **overrides}


def test_account_defaults_and_normalisation() -> None:
    account = validate_account_create({"name": "  Acme  ", "domain": "  ", "stage": " Active "},
                                      session_username="alice")
    assert (account.name, account.domain, account.stage, account.owner_username) == ("Acme", None, "active", "alice")
    assert account.external_ref is None
    assert validate_account_create({"name": "Ac"}, session_username="alice").stage == "prospect"
    blank_owner = validate_account_create({"name": "Ac", "owner_username": " "}, session_username="alice")
    assert blank_owner.owner_username is None
    assert validate_account_create({"name": "n" * 400}, session_username=None).name == "n" * 300


@pytest.mark.parametrize(("body", "code"), [
    ({}, "invalid_account_name"),
    ({"name": " A "}, "invalid_account_name"),
    ({"name": 12345}, "invalid_account_name"),
    ({"name": "Acme", "stage": "won"}, "invalid_account_stage"),
    ({"name": "Acme", "evidence_refs": "x"}, "invalid_evidence_refs"),
])
def test_account_validation_errors(body: dict, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_account_create(body, session_username="alice")
    assert (err.value.status, err.value.code) == (400, code)


def test_duplicate_account_names_compare_stored_values_exactly() -> None:
    existing = ["Acme", "n" * 300]
    with pytest.raises(AccountNameConflict) as err:
        ensure_account_name_available(validate_account_create({"name": " Acme "}, session_username=None).name, existing)
    assert (err.value.status, err.value.code) == (409, "account_name_conflict")
    with pytest.raises(AccountNameConflict):  # equal once truncated to 300
        ensure_account_name_available(validate_account_create({"name": "n" * 301}, session_username=None).name,
                                      existing)
    ensure_account_name_available("acme", existing)  # case differs: allowed
    ensure_account_name_available("Acme", [])  # same name in another project: the caller passes this project's names


def test_opportunity_edge_cases_of_section_f() -> None:
    o = validate_opportunity_create(opp(probability=1.7, amount_estimate=-5, stage="Won"), session_username="alice")
    assert (o.probability, o.amount_estimate, o.stage) == (Decimal("1.0000"), Decimal("0.00"), "won")
    assert validate_opportunity_create(opp(probability="abc"), session_username=None).probability == Decimal("0.1")
    o = validate_opportunity_create(opp(amount_estimate="1234.565", probability="0.12345"), session_username=None)
    assert (o.amount_estimate, o.probability) == (Decimal("1234.57"), Decimal("0.1235"))
    o = validate_opportunity_create(opp(expected_close_date="2026-12-31", owner_username=""), session_username="bob")
    assert o.expected_close_date == date(2026, 12, 31) and o.owner_username == "bob" and o.stage == "discovery"
    assert validate_opportunity_create(opp(next_step="n" * 2000), session_username=None).next_step == "n" * 1000


@pytest.mark.parametrize(("overrides", "code"), [
    ({"title": "  "}, "invalid_opportunity_title"),
    ({"account_id": None}, "invalid_account_id"),
    ({"account_id": ""}, "invalid_account_id"),
    ({"next_step": "ok"}, "next_step_required"),
    ({"next_step": "  abc  "}, "next_step_required"),
    ({"stage": "closed"}, "invalid_stage"),
    ({"expected_close_date": "31/12/2026"}, "invalid_expected_close_date"),
    ({"expected_close_date": "2026-02-30"}, "invalid_expected_close_date"),
    ({"expected_close_date": 20261231}, "invalid_expected_close_date"),
    ({"evidence_refs": {"ref": "x"}}, "invalid_evidence_refs"),
])
def test_opportunity_validation_errors(overrides: dict, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_opportunity_create(opp(**overrides), session_username="alice")
    assert (err.value.status, err.value.code) == (400, code)


def test_opportunity_validation_order_and_bad_account_reference() -> None:
    with pytest.raises(InvalidInput) as err:  # title is checked before account_id
        validate_opportunity_create({"account_id": None}, session_username=None)
    assert err.value.code == "invalid_opportunity_title"
    with pytest.raises(NotFound) as err:
        validate_opportunity_create(opp(account_id="acc-1"), session_username=None)
    assert (err.value.status, err.value.code) == (404, "account_not_found")
    with pytest.raises(InvalidInput):  # evidence refs are validated before the account check
        validate_opportunity_create(opp(account_id="acc-1", evidence_refs=1), session_username=None)


def test_any_stage_may_move_to_any_stage() -> None:
    for src in OPPORTUNITY_STAGES:
        for dst in OPPORTUNITY_STAGES:
            change = transition_opportunity_stage(src, dst.upper())
            assert change.to_stage == dst and change.is_confirmation == (src == dst)
    reopened = transition_opportunity_stage("won", "negotiation")
    assert reopened.audit_payload("client came back") == {"from_stage": "won", "to_stage": "negotiation",
                                                          "reason": "client came back"}


@pytest.mark.parametrize("stage", [None, "", "Won 🎉", "closed_won", "open", 3])
def test_bad_stage_is_400(stage: object) -> None:
    with pytest.raises(InvalidInput) as err:
        transition_opportunity_stage("discovery", stage)
    assert err.value.code == "invalid_stage"


def test_stage_update_body() -> None:
    body = validate_stage_update({"stage": " Lost ", "reason": "  ", "evidence_refs": ["cw:1"]})
    assert (body.stage, body.reason, body.evidence_refs[0]["source"]) == ("lost", None, "cw_conversations")
    assert validate_stage_update({"stage": "won", "reason": "r" * 1500}).reason == "r" * 1000


@pytest.mark.parametrize(("title", "normalised", "stage"), [
    ("Won 🎉", "won", "won"),
    ("closed-won", "closed_won", "won"),
    ("Closed - Lost", "closed_lost", "lost"),
    ("Lost", "lost", "lost"),
    ("In Progress", "in_progress", "qualified"),
    ("Proposal Sent", "proposal_sent", "proposal"),
    ("  Negotiation!! ", "negotiation", "negotiation"),
    ("Lead", "lead", "discovery"),
    ("Something else", "something_else", "discovery"),
    (None, None, "discovery"),
])
def test_vendor_stage_titles_are_normalised(title: str | None, normalised: str | None, stage: str) -> None:
    assert normalize_stage_title(title) == normalised
    assert crm_stage_for_deal(title) == stage


def test_open_deal_stage_uses_the_normalised_stage() -> None:
    assert is_open_deal_stage(None) and is_open_deal_stage("Proposal") and is_open_deal_stage("🎉")
    assert not is_open_deal_stage("Won 🎉") and not is_open_deal_stage("closed-won") and not is_open_deal_stage("LOST")


def test_mirror_account_stage() -> None:
    assert mirror_account_stage("Active") == "active" and mirror_account_stage("Customer") == "prospect"
    assert mirror_account_stage(None) == "prospect"


def test_overview_groupings() -> None:
    assert opportunity_by_stage({"won": 2, "discovery": 3, "lost": 0, "qualified": 1}) == [
        {"stage": "discovery", "count": 3}, {"stage": "qualified", "count": 1}, {"stage": "won", "count": 2}]
    assert links_by_status({"inactive": 1, "active": 5}) == [{"status": "active", "count": 5},
                                                             {"status": "inactive", "count": 1}]
    assert opportunity_stage_filter(" WON ") == "won" and opportunity_stage_filter("") is None
    assert opportunity_stage_filter("nonsense") == "nonsense"  # matches nothing: an empty list, not a 400
