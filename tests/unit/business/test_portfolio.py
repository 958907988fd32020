"""Portfolio: worked example G6 and the overview/message-feed rules (business.md §A7, §A8)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from shared.business.errors import InvalidInput, NotFound
from shared.business.labels import CLIENT_AUTHOR_FALLBACK, CONTACT_FALLBACK, TEAM_AUTHOR_FALLBACK
from shared.business.portfolio import (
    agreement_cards,
    agreements_chart,
    bucket_series,
    burn_vs_budget_chart,
    client_value,
    client_value_score,
    dashboard_row,
    dashboard_totals,
    discount_policy,
    empty_overview,
    extract_attachments,
    feed_messages,
    finance_row,
    finance_totals,
    forecast_days,
    funnel_nodes,
    loops_email_counts,
    max_discount_pct,
    overview_messages,
    parse_messages_query,
    parse_overview_query,
    pattern_card_severity,
    persons,
    revenue_trend,
    risk_cards,
    risks_trend_chart,
    select_contact,
    select_projects,
    upsell_cards,
)

NOW = datetime(2026, 2, 17, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
ALPHA, BETA, FOREIGN = (str(uuid.UUID(int=i)) for i in (1, 2, 3))
SCOPE_PROJECTS = [{"id": BETA, "name": "Beta"}, {"id": ALPHA, "name": "Alpha"}]


def g6_rows() -> list[dict]:
    alpha = dashboard_row(project_id=ALPHA, project_name="Alpha", messages_7d=10, linear_open_issues=4,
                          attio_pipeline_amount=100_000, crm_opportunities=[], health_score=80, risks_open=2)
    beta = dashboard_row(project_id=BETA, project_name="Beta", messages_7d=0, linear_open_issues=0,
                         attio_pipeline_amount=0, crm_opportunities=[], health_score=None, risks_open=0)
    return [alpha, beta]


def test_g6_client_value_score_and_discount_policy() -> None:
    parts = client_value(expected_revenue=100_000, messages_7d=10, health_score=80, risks_open=2)
    assert parts.r == 28 and parts.e == 8 and parts.h == Decimal("33.6") and parts.p == 11
    assert parts.raw == Decimal("80.6") and parts.score == 81
    alpha, beta = g6_rows()
    assert alpha["expected_revenue"] == 100000 and alpha["client_value_score"] == 81
    assert beta["client_value_score"] == 22 and beta["health_score"] == 0
    assert discount_policy([alpha, beta]) == [
        {"project_id": ALPHA, "project_name": "Alpha", "client_value_score": 81, "max_discount_pct": 14},
        {"project_id": BETA, "project_name": "Beta", "client_value_score": 22, "max_discount_pct": 5}]
    totals = dashboard_totals([alpha, beta])
    assert totals["selected_projects"] == 2
    assert totals["avg_client_value_score"] == 51.5
    assert totals["avg_health_score"] == 40.0
    assert totals["messages_7d"] == 10 and totals["risks_open"] == 2
    assert totals["expected_revenue"] == 100000


def test_g6_project_selection_stays_in_scope() -> None:
    query = parse_overview_query(project_ids=f"{ALPHA},{FOREIGN}")
    assert [p["id"] for p in select_projects(query.project_ids, active_project_id=BETA,
                                             scope_projects=SCOPE_PROJECTS)] == [ALPHA]
    assert [p["id"] for p in select_projects([], active_project_id=BETA, scope_projects=SCOPE_PROJECTS)] == [BETA]
    assert select_projects([FOREIGN], active_project_id=BETA, scope_projects=SCOPE_PROJECTS) == []
    both = select_projects([BETA, ALPHA], active_project_id=BETA, scope_projects=SCOPE_PROJECTS)
    assert [p["name"] for p in both] == ["Alpha", "Beta"]  # name asc


def test_overview_query_parsing() -> None:
    q = parse_overview_query(project_ids=[f"{ALPHA.upper()}, not-a-uuid", ALPHA, ""], message_limit=1,
                             card_limit=1000)
    assert q.project_ids == [ALPHA] and q.message_limit == 5 and q.card_limit == 80
    assert parse_overview_query().message_limit == 40 and parse_overview_query().card_limit == 16
    many = ",".join(str(uuid.UUID(int=i)) for i in range(1, 150))
    assert len(parse_overview_query(project_ids=many).project_ids) == 100


def test_empty_selection_shape() -> None:
    body = empty_overview()
    assert body["dashboard"] == {"totals": None, "by_project": [], "trend": [], "charts": {}}
    assert body["loops"] == {"contacts_with_email": 0, "unique_emails": 0}
    assert dashboard_totals([]) is None and finance_totals([]) is None


@pytest.mark.parametrize(("score", "pct"), [(100, 18), (85, 18), (84, 14), (70, 14), (69, 10), (55, 10), (54, 7),
                                            (40, 7), (39, 5), (0, 5)])
def test_discount_tiers(score: int, pct: int) -> None:
    assert max_discount_pct(score) == pct


def test_client_value_clamps_and_rounds_half_up() -> None:
    assert client_value_score(expected_revenue=0, messages_7d=0, health_score=0, risks_open=10) == 0
    assert client_value_score(expected_revenue=10**12, messages_7d=100, health_score=100, risks_open=0) == 100
    # 22 + 0.8 = 22.8 → 23; 22 + 0.42 × 1.25 = 22.525 → 23 (half-up on the clamped total)
    assert client_value_score(expected_revenue=0, messages_7d=1, health_score=0, risks_open=0) == 23
    assert client_value_score(expected_revenue=-500, messages_7d=0, health_score=Decimal("1.25"),
                              risks_open=0) == 23  # 22.525 → 23


def test_expected_revenue_combines_crm_and_attio() -> None:
    row = dashboard_row(project_id=ALPHA, project_name="A", messages_7d=0, linear_open_issues=0,
                        attio_pipeline_amount=1000, health_score=50, risks_open=0,
                        crm_opportunities=[{"stage": "proposal", "amount_estimate": 500, "probability": 0.5},
                                           {"stage": "won", "amount_estimate": 9999, "probability": 1}])
    assert row["crm_pipeline_amount"] == 500 and row["expected_revenue"] == 1500


def test_revenue_trend() -> None:
    snaps = [{"horizon_days": h, "period_start": date(2026, m, 1), "expected_revenue": 100, "pipeline_amount": 200,
              "costs_amount": 10} for h in (30, 60, 90) for m in (1, 2)]
    trend = revenue_trend(snaps, totals=None, by_project=[], today=TODAY)
    assert trend == [{"period_start": "2026-01-01", "expected_revenue": 100.0, "pipeline_amount": 200.0,
                      "costs_amount": 10.0},
                     {"period_start": "2026-02-01", "expected_revenue": 100.0, "pipeline_amount": 200.0,
                      "costs_amount": 10.0}]
    rows = g6_rows()
    fallback = revenue_trend([], totals=dashboard_totals(rows), by_project=rows, today=TODAY)
    assert fallback == [{"period_start": "2026-02-17", "expected_revenue": 100000.0, "pipeline_amount": 100000.0,
                         "costs_amount": 0.0}]


def test_chart_buckets_keep_the_most_recent_n_ascending() -> None:
    points = [(NOW - timedelta(weeks=w), 1) for w in range(30)]
    series = bucket_series(points, bucket="week", agg="count", max_points=24)
    assert len(series) == 24 and series[-1] == {"point": "2026-02-16", "value": 1}
    assert series[0]["point"] < series[-1]["point"]
    health = bucket_series([(NOW, 80), (NOW, 81), (NOW - timedelta(days=70), 10)], bucket="day", agg="avg",
                           max_points=60, since=TODAY - timedelta(days=60))
    assert health == [{"point": "2026-02-17", "value": 80.5}]
    assert agreements_chart([NOW, NOW - timedelta(days=7)], [NOW]) == [
        {"point": "2026-02-09", "created": 1, "completed": 0}, {"point": "2026-02-16", "created": 1, "completed": 1}]
    assert risks_trend_chart([(NOW, 3), (NOW, 4)]) == [{"point": "2026-02-16", "count": 2, "severity_avg": 3.5}]
    assert burn_vs_budget_chart([{"horizon_days": 30, "period_start": date(2026, 2, 1), "costs_amount": 5,
                                  "pipeline_amount": 50},
                                 {"horizon_days": 60, "period_start": date(2026, 2, 1), "costs_amount": 5,
                                  "pipeline_amount": 50}]) == [{"point": "2026-02-01", "burn": 5.0, "budget": 50.0}]


def test_risk_cards_union_and_order() -> None:
    cards = risk_cards(
        radar_items=[{"id": "r1", "status": "open", "severity": 3, "probability": 0.5, "title": "composite",
                      "updated_at": NOW},
                     {"id": "r2", "status": "closed", "severity": 5, "probability": 1, "title": "old",
                      "updated_at": NOW}],
        signals=[{"id": "s1", "status": "proposed", "severity": 4, "confidence": 0.9, "summary": "late",
                  "created_at": NOW - timedelta(hours=1)},
                 {"id": "s2", "status": "dismissed", "severity": 5, "confidence": 0.9, "created_at": NOW},
                 {"id": "s3", "status": "accepted", "severity": 3, "confidence": 0.9, "created_at": NOW}],
        patterns=[{"id": "p1", "status": "open", "weight": 0.9, "title": "cluster", "updated_at": NOW},
                  {"id": "p2", "status": "mitigated", "weight": 1, "title": "x", "updated_at": NOW}],
        card_limit=10)
    assert [(c["id"], c["source"], c["severity"]) for c in cards] == [
        ("p1", "risk_pattern", 5), ("s1", "signal", 4), ("r1", "risk_radar", 3)]
    assert pattern_card_severity(0.5) == 3 and pattern_card_severity(0) == 1 and pattern_card_severity(0.1) == 1


def test_agreement_cards() -> None:
    evidence = [
        {"id": 1, "snippet": "Signed the Agreement", "payload": {}, "source_pk": "a", "created_at": NOW},
        {"id": 2, "snippet": None, "payload": {"note": "Подписали договор"}, "source_pk": "b",
         "created_at": NOW - timedelta(hours=1)},
        {"id": 3, "snippet": "hello", "payload": {}, "source_pk": "c", "created_at": NOW},
        {"id": 4, "snippet": "  ", "payload": {"срок": 1}, "source_pk": "d", "created_at": None},
    ]
    cards = agreement_cards(evidence, card_limit=16)
    assert [c["id"] for c in cards] == [1, 2, 4]
    assert cards[0]["summary"] == "Signed the Agreement"
    assert cards[1]["summary"] == '{"note": "Подписали договор"}'
    assert len(agreement_cards(evidence, card_limit=1)) == 1


def test_finances() -> None:
    def o(stage: str, amount: int, probability: float, close_in: int | None) -> dict:
        close = None if close_in is None else TODAY + timedelta(days=close_in)
        return {"stage": stage, "amount_estimate": amount, "probability": probability, "expected_close_date": close}

    opps = [o("won", 1000, 1, None), o("proposal", 400, 0.25, 10), o("discovery", 100, 0.1, -5), o("lost", 50, 0, 99)]
    assert forecast_days(opps, today=TODAY) == 5  # mean(10, 0) = 5
    row = finance_row(project_id=ALPHA, project_name="Alpha", opportunities=opps, signed_offer_totals=[10.005, 5],
                      latest_snapshot=None, today=TODAY)
    assert (row["deal_amount"], row["pipeline_amount"], row["expected_revenue"]) == (1000, 500, 110)
    assert row["signed_total"] == 15.01 and row["costs_amount"] == 0 and row["gross_margin"] == 110
    with_snapshot = finance_row(project_id=ALPHA, project_name="Alpha", opportunities=opps, signed_offer_totals=[],
                                latest_snapshot={"costs_amount": 30, "gross_margin": 70}, today=TODAY)
    assert (with_snapshot["costs_amount"], with_snapshot["gross_margin"]) == (30, 70)
    assert finance_totals([row, with_snapshot])["deal_amount"] == 2000
    assert funnel_nodes(opps + [{"stage": "proposal", "amount_estimate": 1}])[0] == {
        "stage": "proposal", "opportunities": 2, "amount": 401.0}
    assert forecast_days([], today=TODAY) == 0


def test_upsell_and_loops_cards() -> None:
    items = [{"id": "u1", "score": 0.72, "created_at": NOW,
              "suggested_offer_payload": {"discount_recommendation_pct": 5}},
             {"id": "u2", "score": 0.8, "created_at": NOW - timedelta(days=1), "suggested_offer_payload": {}}]
    cards = upsell_cards(items, card_limit=16)
    assert [(c["id"], c["suggested_discount_pct"]) for c in cards] == [("u2", 0), ("u1", 5)]
    assert loops_email_counts(["A@x.com", "a@x.com", " ", None, "b@x.com"]) == {"contacts_with_email": 3,
                                                                                 "unique_emails": 2}


def test_overview_messages() -> None:
    rows = [{"id": "m1", "content": "x" * 700, "created_at": NOW - timedelta(hours=1)},
            {"id": "m2", "content": "   ", "created_at": NOW},
            {"id": "m3", "content": "hi", "created_at": None},
            {"id": "m4", "content": "latest", "created_at": NOW}]
    out = overview_messages(rows, limit=5)
    assert [m["id"] for m in out] == ["m4", "m1", "m3"] and len(out[1]["content"]) == 600


def test_messages_query() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_messages_query(project_id=None)
    assert err.value.code == "project_id_required"
    with pytest.raises(NotFound) as err:
        parse_messages_query(project_id="nope")
    assert err.value.code == "project_not_found"
    assert parse_messages_query(project_id=ALPHA, limit=5).limit == 20
    assert parse_messages_query(project_id=ALPHA).limit == 200


def test_persons_and_contact_selection() -> None:
    people = persons([{"id": "cwc:2", "name": " ", "email": "zed@x.com"}, {"id": "cwc:1", "name": "Anna"},
                      {"id": "cwc:3", "name": None, "email": None, "identifier": None, "contact_id": None}])
    assert [p["person_name"] for p in people] == ["Anna", "zed@x.com", CONTACT_FALLBACK]
    assert select_contact("cwc:2", people) == "cwc:2"
    assert select_contact("cwc:other", people) == "cwc:1"
    assert select_contact(None, []) is None


def test_feed_messages() -> None:
    rows = [{"id": f"m{i}", "project_id": ALPHA, "created_at": NOW - timedelta(minutes=i), "contact_global_id": "cwc:1",
             "sender_type": "Contact", "content": f"c{i}", "data": {}} for i in range(5)]
    rows.append({"id": "agent", "project_id": ALPHA, "created_at": NOW, "contact_global_id": "cwc:2",
                 "sender_type": "user", "content": None,
                 "data": {"sender": {"name": "Bob"}, "source": "email",
                          "attachments": [{"file_id": 7, "file_name": "a.pdf", "data_url": "u"}, {"id": ""}]}})
    out = feed_messages(rows, limit=3, project_name="Alpha", person_names={"cwc:1": "Anna"})
    assert [m["id"] for m in out] == ["m1", "m0", "agent"]  # the latest 3, ascending
    assert out[0]["author_name"] == "Anna" and out[0]["sender_type"] == "contact" and out[0]["channel"] == "chatwoot"
    agent = out[-1]
    assert agent["author_name"] == "Bob" and agent["channel"] == "email" and agent["content"] == ""
    assert agent["attachments"] == [{"id": "7", "name": "a.pdf", "url": "u", "content_type": "file"}]
    only = feed_messages(rows, limit=20, project_name="Alpha", person_names={}, contact_global_id="cwc:1")
    assert len(only) == 5 and only[0]["author_name"] == CLIENT_AUTHOR_FALLBACK
    bare = feed_messages([{"id": "x", "sender_type": None, "data": None}], limit=20, project_name="A", person_names={})
    assert bare[0]["sender_type"] == "unknown" and bare[0]["author_name"] == TEAM_AUTHOR_FALLBACK
    assert len(extract_attachments({"attachment": [{"id": i} for i in range(12)]})) == 8


def test_bucket_mean_series_weights_pre_grouped_days() -> None:
    from datetime import date

    from shared.business.portfolio import bucket_mean_series, bucket_series

    days = [(date(2026, 2, 16), "1.4", 2), (date(2026, 2, 18), "0.6", 1), (date(2026, 2, 23), "0.8", 1),
            (None, 5, 5)]
    points = [(date(2026, 2, 16), "0.7"), (date(2026, 2, 16), "0.7"), (date(2026, 2, 18), "0.6"),
              (date(2026, 2, 23), "0.8")]
    assert bucket_mean_series(days, bucket="week", max_points=24, places=4) == bucket_series(
        points, bucket="week", agg="avg", max_points=24, places=4) == [
        {"point": "2026-02-16", "value": 0.6667}, {"point": "2026-02-23", "value": 0.8}]
