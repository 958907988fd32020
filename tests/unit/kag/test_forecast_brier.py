"""Forecast quality on a seeded synthetic history with known outcomes.

Each synthetic project is simulated over 14 past days and 7 future days: blockers arrive and get
resolved at a project-specific pace, the client answers team messages with a project-specific
delay and mood drift (some answers carry out-of-scope requests), and costs burn against a plan at
a project-specific speed. The event stream goes through the real signal engine; the label of a
risk type is 1 when the §11.2 outcome rule fires on any of the 7 future days (replayed day by day
with the real engine), i.e. the outcome is known by construction, not assumed.

The forecast made at `now` from the past events alone (`rules_v1`, with and without similar cases
from a separate history set; `logit_v1` fitted on that history) is compared by Brier score with
the base-rate forecast (the history's outcome frequency per risk type).
Run with `-s` to see the numbers.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from jobs.kag.forecast import compute_forecasts, fit_logit_models, logit_samples
from jobs.kag.pipeline import evaluate_project
from jobs.kag.scores import compute_scores
from jobs.kag.signals import process_events
from jobs.kag.similarity import CaseCandidate, build_case_signature, outcomes_seen, rank_similar_cases
from jobs.kag.snapshots import derive_outcomes
from jobs.kag.vocab import RISK_TYPES
from tests.unit.kag._support import NOW

HOUR = timedelta(hours=1)
PAST_DAYS, FUTURE_DAYS = 14, 7


def simulate(rng: np.random.Generator, pid: str, t0):
    start, end = t0 - timedelta(days=PAST_DAYS), t0 + timedelta(days=FUTURE_DAYS)
    raw: list[tuple] = []

    def add(event_type, ts, payload, ref):
        raw.append((ts, event_type, payload, ref))

    new_blockers_per_day, resolve_per_day = rng.gamma(1.5, 0.25), rng.uniform(0.03, 0.5)
    for d in range(PAST_DAYS + FUTURE_DAYS):
        for b in range(rng.poisson(new_blockers_per_day)):
            opened, bid = start + timedelta(days=d) + HOUR * float(rng.uniform(0, 24)), f"{pid}-b{d}-{b}"
            add("task_blocked", opened, {"blocker_id": bid}, {"linear_issue_id": bid})
            closed = opened + timedelta(days=float(rng.geometric(resolve_per_day)))
            if closed < end:
                add("blocker_resolved", closed, {"blocker_id": bid}, {"linear_issue_id": bid})

    reply_mean_days = rng.gamma(0.9, 2.5)
    mood, drift, out_of_scope_share = rng.normal(0.3, 0.2), rng.normal(-0.02, 0.04), rng.beta(1.2, 4)
    t, k = start, 0
    while t < end:
        k += 1
        add("message_sent", t, {"sender": "team"}, {"message_id": f"{pid}-t{k}"})
        t += timedelta(days=float(rng.exponential(reply_mean_days)))
        mood = float(np.clip(mood + drift + rng.normal(0, 0.15), -1, 1))
        if t < end:
            add(
                "message_sent",
                t,
                {"sender": "client", "sentiment_score": mood},
                {"message_id": f"{pid}-c{k}"},
            )
            if rng.random() < out_of_scope_share:
                add("scope_change_requested", t + HOUR, {}, {"message_id": f"{pid}-c{k}"})
        t += timedelta(days=float(rng.uniform(0.2, 1.5)))

    plan, speed, deal = 10000.0, rng.lognormal(np.log(0.9), 0.25), {"attio_record_id": f"{pid}-deal"}
    add("finance_entry_created", start, {"entry_type": "planned_budget", "amount": plan}, deal)
    add("finance_entry_created", start, {"entry_type": "revenue", "amount": plan * 1.5}, deal)
    add("finance_entry_created", start, {"entry_type": "cost", "amount": plan * speed * 0.8}, deal)
    for d in range(PAST_DAYS + FUTURE_DAYS):
        cost = float(plan * speed * 0.012 * rng.lognormal(0, 0.3))
        add(
            "finance_entry_created",
            start + timedelta(days=d, hours=18),
            {"entry_type": "cost", "amount": cost},
            deal,
        )

    raw.sort(key=lambda item: item[0])
    rows = [
        {"id": i + 1, "event_type": et, "event_ts": ts.isoformat(), "payload": p, "source_refs": [r]}
        for i, (ts, et, p, r) in enumerate(raw)
    ]
    past = [row for row, item in zip(rows, raw, strict=True) if item[0] <= t0]

    state, labels = process_events(None, past, t0).state, dict.fromkeys(RISK_TYPES, 0)
    for d in range(1, FUTURE_DAYS + 1):
        at = t0 + timedelta(days=d)
        run = process_events(state, [row for row, item in zip(rows, raw, strict=True) if item[0] <= at], at)
        state = run.state
        signals = [s.to_row() for s in run.signals]
        scores = [s.to_row() for s in compute_scores(signals, state, at)]
        for outcome in derive_outcomes(pid, at.date(), signals, scores):
            labels[outcome.outcome_type] = 1
    return past, labels


def brier(pairs: list[tuple[float, int]]) -> float:
    return float(np.mean([(p - y) ** 2 for p, y in pairs]))


def test_forecast_beats_the_base_rate_on_a_synthetic_history():
    rng = np.random.default_rng(20260217)
    history_now = NOW - timedelta(days=30)
    history = []
    for i in range(120):
        pid = f"h{i}"
        past, labels = simulate(rng, pid, history_now)
        snapshot = evaluate_project(past, history_now, project_id=pid).snapshot.to_row() | {"project_id": pid}
        outcomes = [
            {
                "project_id": pid,
                "outcome_type": t,
                "occurred_at": history_now + timedelta(days=4),
                "severity": 4,
                "evidence_refs": [{"attio_record_id": f"{pid}-deal"}],
            }
            for t in RISK_TYPES
            if labels[t]
        ]
        signature = build_case_signature(window_days=7, now=history_now, snapshots=[snapshot], project_id=pid)
        history.append((pid, snapshot, outcomes, signature, labels))

    base_rate = {t: float(np.mean([h[4][t] for h in history])) for t in RISK_TYPES}
    candidates = [
        CaseCandidate(pid, pid, sig.signature_vector, [], sig.context_json, outcomes_seen(outs))
        for pid, _, outs, sig, _ in history
    ]
    models = fit_logit_models(logit_samples([h[1] for h in history], [o for h in history for o in h[2]], NOW))

    pairs: dict[str, dict[str, list[tuple[float, int]]]] = {
        name: {t: [] for t in RISK_TYPES}
        for name in ("base_rate", "rules_v1", "rules_v1+similar", "logit_v1+similar")
    }
    for i in range(200):
        pid = f"e{i}"
        past, labels = simulate(rng, pid, NOW)
        e = evaluate_project(past, NOW, project_id=pid)
        signature = build_case_signature(
            window_days=7, now=NOW, snapshots=[e.snapshot.to_row()], project_id=pid
        )
        cases = rank_similar_cases(signature, candidates, NOW, top_k=5)
        signals, scores = [s.to_row() for s in e.signals], [s.to_row() for s in e.scores]
        with_cases = {f.risk_type: f for f in compute_forecasts(signals, scores, cases, NOW)}
        logit = {
            f.risk_type: f
            for f in compute_forecasts(signals, scores, cases, NOW, model="logit_v1", logit_models=models)
        }
        for t in RISK_TYPES:
            y = labels[t]
            pairs["base_rate"][t].append((base_rate[t], y))
            pairs["rules_v1"][t].append((e.forecast(t).probability_7d, y))
            pairs["rules_v1+similar"][t].append((with_cases[t].probability_7d, y))
            pairs["logit_v1+similar"][t].append((logit[t].probability_7d, y))

    pooled = {name: brier([p for t in RISK_TYPES for p in per[t]]) for name, per in pairs.items()}
    print(
        "\nobserved 7-day outcome rate:",
        {t: round(float(np.mean([y for _, y in pairs["base_rate"][t]])), 3) for t in RISK_TYPES},
    )
    for name, per in pairs.items():
        print(f"Brier {name:18s} pooled={pooled[name]:.4f}", {t: round(brier(per[t]), 4) for t in RISK_TYPES})

    assert pooled["rules_v1"] < pooled["base_rate"]
    assert pooled["rules_v1+similar"] < pooled["base_rate"]
    for t in RISK_TYPES:
        assert brier(pairs["rules_v1+similar"][t]) < brier(pairs["base_rate"][t]), t
