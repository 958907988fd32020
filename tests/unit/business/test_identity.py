"""Identity: name similarity (incl. Cyrillic ↔ Latin), mail domains and suggestions (business.md §B3)."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.business.identity_suggestions import build_suggestions, plan_suggestion_upsert
from shared.business.errors import InvalidInput
from shared.business.identity import (
    domains_match,
    email_domain,
    is_generic_mail_domain,
    parse_link_status_filter,
    parse_suggestion_status_filter,
    similarity,
    spec_similarity,
    suggestion_dedupe_key,
    transliterate,
    validate_suggestion_ids,
)


@pytest.mark.parametrize(("a", "b", "score"), [
    ("Acme", "  ACME ", 1.0),
    ("", "Acme", 0.0),
    (None, "Acme", 0.0),
    ("Acme", "Acme Corp", 0.86),
    ("Acme Digital Group", "Group Acme Labs", 2 / 3),
    ("Acme", "Globex", 0.0),
    ("!!!", "???", 0.0),
    ("Ромашка Плюс", "плюс ромашка", 1.0),  # same script: word sets
    ("ООО Ромашка", "ромашка", 0.86),
    ("Straße", "STRASSE", 1.0),  # casefold
])
def test_spec_similarity(a: str | None, b: str | None, score: float) -> None:
    assert spec_similarity(a, b) == pytest.approx(score)
    assert similarity(a, b) == pytest.approx(score)


@pytest.mark.parametrize(("cyrillic", "latin"), [
    ("Дмитрий Иванов", "Dmitry Ivanov"),
    ("Дмитрий Иванов", "Dmitriy Ivanov"),
    ("Юлия", "Yulia"),
    ("Алексей Смирнов", "Alexey Smirnov"),
    ("Евгений", "Yevgeny"),
    ("Наталья", "Natalya"),
    ("Михаил", "Mikhail"),
    ("Щукин", "Shchukin"),
    ("Ксения", "Xenia"),
    ("Фёдор", "Fyodor"),
    ("Сергей", "Sergei"),
])
def test_cyrillic_and_latin_names_match(cyrillic: str, latin: str) -> None:
    assert similarity(cyrillic, latin) == pytest.approx(0.95)
    assert similarity(latin, cyrillic) == pytest.approx(0.95)
    assert spec_similarity(cyrillic, latin) == 0.0  # the spec's word comparison alone cannot see it


def test_cross_script_partial_and_non_matches() -> None:
    assert similarity("Иван Петров", "Ivan Sidorov") == pytest.approx(0.5)
    assert similarity("Иван", "Petr") == 0.0
    assert similarity("ООО Ромашка", "Romashka") == pytest.approx(0.86)
    assert transliterate("Щука") == "shchuka"


def test_same_script_scores_are_exactly_the_spec() -> None:
    assert similarity("Dmitry", "Dmitriy") == spec_similarity("Dmitry", "Dmitriy") == 0.0


@given(st.text(max_size=30), st.text(max_size=30))
def test_similarity_is_bounded_symmetric_and_never_below_the_spec(a: str, b: str) -> None:
    score = similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(similarity(b, a))
    assert score >= spec_similarity(a, b)


@pytest.mark.parametrize("domain", ["gmail.com", "GMAIL.COM", "mail.ru", "yandex.ru", "outlook.com", "hotmail.fr",
                                    "yahoo.co.uk", "icloud.com", "proton.me"])
def test_generic_mail_domains(domain: str) -> None:
    assert is_generic_mail_domain(domain)
    assert not domains_match(f"someone@{domain}", domain)


def test_company_domains_match_after_normalisation() -> None:
    assert not is_generic_mail_domain("acme.com") and not is_generic_mail_domain("live.acme.com")
    assert domains_match("Jane.Doe@ACME.com ", "https://www.acme.com/about")
    assert not domains_match("jane@acme.com", "acme.io")
    assert not domains_match("no-at-sign", "acme.com") and not domains_match("jane@acme.com", None)
    assert email_domain("Jane <jane@Acme.COM>") == "acme.com"


def test_dedupe_key_and_apply_ids() -> None:
    expected = hashlib.sha1(b"cw_contact:cwc:1|attio_account:a1").hexdigest()
    assert suggestion_dedupe_key("cw_contact", "cwc:1", "attio_account", "a1") == expected
    ids = [str(uuid.uuid4()) for _ in range(3)]
    assert validate_suggestion_ids([ids[0], ids[0].upper(), " ", ids[1]]) == [ids[0], ids[1]]
    assert validate_suggestion_ids([]) == []
    assert len(validate_suggestion_ids([str(uuid.uuid4()) for _ in range(250)])) == 200
    for bad in ("a,b", ids[0], [ids[0], "nope"], [1], {"ids": ids}, None):
        with pytest.raises(InvalidInput) as err:
            validate_suggestion_ids(bad)
        assert (err.value.status, err.value.code) == (400, "invalid_suggestion_ids")


def test_status_filters() -> None:
    assert parse_suggestion_status_filter(None) == "proposed" and parse_suggestion_status_filter("ALL") is None
    assert parse_link_status_filter("") == "active" and parse_link_status_filter("inactive") == "inactive"
    with pytest.raises(InvalidInput):
        parse_link_status_filter("deleted")


CONTACTS = [
    {"id": "cwc:1", "name": "Jane Doe", "email": "jane@acme.com"},
    {"id": "cwc:2", "name": "Иван Петров", "email": "ivan@gmail.com"},
    {"id": "cwc:3", "name": "Bob", "email": "bob@gmail.com"},
]
ACCOUNTS = [
    {"id": "acc-acme", "name": "Acme Corp", "domain": "acme.com"},
    {"id": "acc-ivan", "name": "Ivan Petrov", "domain": None},
    {"id": "acc-gmail", "name": "Personal", "domain": "gmail.com"},
]
PROJECTS = [{"id": "lin-1", "name": "ACME Corp"}, {"id": "lin-2", "name": "Website"}]


def test_build_suggestions() -> None:
    build = build_suggestions(contacts=CONTACTS, accounts=ACCOUNTS, projects=PROJECTS, limit=100)
    pairs = {(c.left_entity_id, c.right_entity_id): c for c in build.candidates}
    assert set(pairs) == {("cwc:1", "acc-acme"), ("cwc:2", "acc-ivan"), ("acc-acme", "lin-1")}
    domain = pairs[("cwc:1", "acc-acme")]
    assert (domain.confidence, domain.reason) == (Decimal("0.9500"), "matching_email_domain")
    assert domain.meta == {"contact_name": "Jane Doe", "account_name": "Acme Corp", "contact_domain": "acme.com",
                           "account_domain": "acme.com"}
    assert domain.evidence_refs == ["cwc:1", "acc-acme"]
    cyrillic = pairs[("cwc:2", "acc-ivan")]
    assert (cyrillic.reason, cyrillic.confidence) == ("matching_contact_account_name", Decimal("0.9500"))
    project = pairs[("acc-acme", "lin-1")]
    assert (project.left_entity_type, project.right_entity_type, project.confidence) == (
        "attio_account", "linear_project", Decimal("1.0000"))
    assert [c.confidence for c in build.candidates] == sorted((c.confidence for c in build.candidates), reverse=True)
    assert build.generated == 3
    # gmail.com on both sides never links Bob (or Ivan) to the "Personal" account
    assert not any(c.right_entity_id == "acc-gmail" for c in build.candidates)
    limited = build_suggestions(contacts=CONTACTS, accounts=ACCOUNTS, projects=PROJECTS, limit=1)
    assert len(limited.candidates) == 1 and limited.candidates[0].right_entity_id == "lin-1"


def test_suggestion_thresholds() -> None:
    weak = build_suggestions(contacts=[{"id": "c", "name": "Acme Digital Group", "email": None}],
                             accounts=[{"id": "a", "name": "Group Acme Labs", "domain": None}],
                             projects=[{"id": "p", "name": "Acme Digital Labs"}], limit=10)
    # contact↔account 0.667 < 0.72 (dropped); account↔project 0.667 ≥ 0.65 (kept)
    assert [(c.left_entity_id, c.right_entity_id, c.confidence) for c in weak.candidates] == [
        ("a", "p", Decimal("0.6667"))]


def test_suggestion_upsert_rules() -> None:
    candidate = build_suggestions(contacts=CONTACTS[:1], accounts=ACCOUNTS[:1], projects=[], limit=5).candidates[0]
    assert plan_suggestion_upsert(None, candidate).values["status"] == "proposed"
    update = plan_suggestion_upsert({"status": "proposed", "confidence": Decimal("0.99")}, candidate)
    assert update.action == "update" and update.values["confidence"] == Decimal("0.99")
    assert plan_suggestion_upsert({"status": "applied", "confidence": 0}, candidate).action == "skip"
    assert plan_suggestion_upsert({"status": "dismissed", "confidence": 0}, candidate).action == "skip"
