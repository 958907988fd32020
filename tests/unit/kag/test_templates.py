"""Templates (kag.md §8)."""

from __future__ import annotations

import pytest

from jobs.kag.templates import BUILTIN_TEMPLATES, plural_ru, render, render_template, resolve_template_body


def test_render_replaces_known_placeholders_and_keeps_unknown_ones():
    body = "{{name}} / {{ name }} / {{  other  }} / {{missing}}"
    assert render(body, {"name": " A\r\n", "other": None}) == "A / A /  / {{missing}}"


def test_stored_template_with_the_highest_version_wins():
    stored = [
        {
            "template_key": "finance_risk_review",
            "language": "ru",
            "channel": "email",
            "version": 2,
            "body": "v2",
        },
        {
            "template_key": "finance_risk_review",
            "language": "ru",
            "channel": "email",
            "version": 3,
            "body": "v3",
        },
        {
            "template_key": "finance_risk_review",
            "language": "en",
            "channel": "email",
            "version": 9,
            "body": "en",
        },
    ]
    assert resolve_template_body("finance_risk_review", stored) == "v3"
    assert resolve_template_body("upsell_offer_pitch", stored) == BUILTIN_TEMPLATES["upsell_offer_pitch"].body


@pytest.mark.parametrize("variant", ["", "   ", None, RuntimeError("llm down")])
def test_failed_rewrite_falls_back_to_the_rendered_text(variant):
    def rewriter(key, text, variables):
        if isinstance(variant, Exception):
            raise variant
        return variant

    text = render_template(
        "waiting_on_client_follow_up",
        {"stage_name": "S", "client_name": "C", "waiting_days": "2.0"},
        rewriter=rewriter,
    )
    assert text.startswith("Тема: Ждём ваш апрув по этапу «S»")


@pytest.mark.parametrize(
    ("key", "variables", "fragments"),
    [
        (
            "waiting_on_client_follow_up",
            {"client_name": "C", "stage_name": "Design", "waiting_days": "4.1"},
            [
                "Тема:",
                "апрув",
                "подтвержд",
                "«Design»",
                "подтвердить текущую версию",
                "прислать правки",
                "15 минут",
            ],
        ),
        (
            "scope_creep_change_request",
            {"client_name": "C", "out_of_scope_count": 2},
            [
                "Тема:",
                "Change Request",
                "scope",
                "- описание изменения",
                "- влияние на сроки",
                "- влияние на бюджет",
                "- обновлённый план поставки",
                " 2 ",
            ],
        ),
        (
            "delivery_risk_escalation",
            {
                "project_name": "P",
                "blockers_count": 4,
                "blockers_age_days": "7.1",
                "stage_overdue_days": "0.0",
            },
            ["Тема:", " 4 ", "7.1", "0.0", "48 час", "owner", "критический путь", "эскалировать"],
        ),
        (
            "finance_risk_review",
            {"client_name": "C", "burn_rate": "1.20", "margin_risk_pct": "100.0"},
            ["Тема:", "burn", "×1.20", "марж", "100.0 %", "30-минутный"],
        ),
        (
            "upsell_offer_pitch",
            {"client_name": "C", "need_signal": "n", "expected_value": "v"},
            ["Тема:", "оффер", "Base", "Plus", "Pro", "ROI"],
        ),
    ],
)
def test_builtin_templates_carry_the_required_content(key, variables, fragments):
    text = render_template(key, variables)
    assert set(variables) <= set(BUILTIN_TEMPLATES[key].variables)
    assert "{{" not in text
    for fragment in fragments:
        assert fragment in text, fragment


def test_russian_plural():
    assert [plural_ru(n, "сигнал", "сигнала", "сигналов") for n in (1, 2, 5, 11, 21, 24)] == [
        "сигнал",
        "сигнала",
        "сигналов",
        "сигналов",
        "сигнал",
        "сигнала",
    ]
