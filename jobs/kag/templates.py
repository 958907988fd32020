"""Message templates (kag.md §8) and their rendering.

Five built-in templates (language `ru`, channel `email`). `resolve_template_body` picks the highest
`version` row of `kag_templates` for `(template_key, ru, email)` (rows passed in by the handler),
else the built-in body. `render` replaces `{{ name }}` (spaces optional) with the string value
(CR removed, trimmed; None → empty); unknown placeholders stay as they are. An optional rewriter
(LLM) may return a variant; an empty result or an exception falls back to the rendered text.

Decisions where the spec is silent: the bodies of the four non-canonical templates (product copy
in the tone of the canonical one, containing every normative phrase of the §8 table); the
`winback` variant reuses `upsell_offer_pitch` with retention phrases and is never rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jobs.kag.rounding import to_number
from jobs.kag.rows import field as get

__all__ = [
    "BUILTIN_TEMPLATES",
    "DEFAULT_CLIENT_NAME",
    "DEFAULT_PROJECT_NAME",
    "DEFAULT_STAGE_NAME",
    "TemplateDef",
    "plural_ru",
    "render",
    "render_template",
    "resolve_template_body",
]

DEFAULT_CLIENT_NAME = "коллеги"
DEFAULT_STAGE_NAME = "текущий этап"
DEFAULT_PROJECT_NAME = "проект"

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class TemplateDef:
    key: str
    category: str
    variables: tuple[str, ...]
    body: str
    language: str = "ru"
    channel: str = "email"


_WAITING = """Тема: Ждём ваш апрув по этапу «{{stage_name}}»

Здравствуйте, {{client_name}}!

Уже {{waiting_days}} дн. ждём подтверждения по этапу «{{stage_name}}». Чтобы не сдвигать сроки,
выберите удобный вариант: 1) подтвердить текущую версию; 2) прислать правки; 3) созвониться на 15 минут.

Спасибо! Как только получим ответ, сразу двинемся дальше."""

_SCOPE = """Тема: Change Request по новым запросам

Здравствуйте, {{client_name}}!

За последнюю неделю мы получили {{out_of_scope_count}} запрос(а) вне согласованного scope проекта.
Чтобы ничего не потерять и сохранить сроки, предлагаем оформить их как Change Request:
- описание изменения;
- влияние на сроки;
- влияние на бюджет;
- обновлённый план поставки.

Подготовим документ и пришлём на согласование. Спасибо!"""

_DELIVERY = """Тема: Риск по срокам проекта «{{project_name}}»

Команда, по проекту «{{project_name}}» сейчас {{blockers_count}} открытых блокера(ов),
средний возраст блокеров {{blockers_age_days}} дн., просрочка этапа {{stage_overdue_days}} дн.

Предлагаем действия:
1) за 48 часов пересобрать scope по каждому блокеру и назначить ответственного (owner) на каждый;
2) перепланировать критический путь;
3) эскалировать внешние зависимости.

Соберём короткий созвон сегодня, чтобы зафиксировать решения."""

_FINANCE = """Тема: Бюджет и маржа по проекту

Здравствуйте, {{client_name}}!

Текущий burn бюджета ×{{burn_rate}} к плану, риск по маржинальности {{margin_risk_pct}} %.
Чтобы заранее договориться о следующих шагах, предлагаем 30-минутный синк:
сверим фактические затраты, приоритеты и варианты корректировки плана.

Спасибо!"""

_UPSELL = """Тема: Предложение по развитию проекта

Здравствуйте, {{client_name}}!

Мы видим запрос на развитие: {{need_signal}}.
Подготовили оффер в трёх вариантах:
- Base — минимальный объём, быстрый старт;
- Plus — расширенный объём и приоритетная поддержка;
- Pro — полный пакет с выделенной командой.

Ожидаемый эффект: {{expected_value}}. Покажем расчёт ROI на коротком созвоне.

Спасибо!"""

BUILTIN_TEMPLATES: dict[str, TemplateDef] = {
    t.key: t
    for t in (
        TemplateDef(
            "waiting_on_client_follow_up",
            "waiting_on_client",
            ("client_name", "stage_name", "waiting_days"),
            _WAITING,
        ),
        TemplateDef(
            "scope_creep_change_request",
            "scope_creep_change_request",
            ("client_name", "out_of_scope_count"),
            _SCOPE,
        ),
        TemplateDef(
            "delivery_risk_escalation",
            "delivery_risk",
            ("project_name", "blockers_count", "blockers_age_days", "stage_overdue_days"),
            _DELIVERY,
        ),
        TemplateDef(
            "finance_risk_review", "finance_risk", ("client_name", "burn_rate", "margin_risk_pct"), _FINANCE
        ),
        TemplateDef(
            "upsell_offer_pitch",
            "upsell_opportunity",
            ("client_name", "need_signal", "expected_value"),
            _UPSELL,
        ),
    )
}

TEMPLATE_FOR_CATEGORY: dict[str, str] = {
    "waiting_on_client": "waiting_on_client_follow_up",
    "scope_creep_change_request": "scope_creep_change_request",
    "delivery_risk": "delivery_risk_escalation",
    "finance_risk": "finance_risk_review",
    "upsell_opportunity": "upsell_offer_pitch",
    "winback": "upsell_offer_pitch",
}


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("\r", "").strip()


def render(body: str, variables: Mapping[str, Any]) -> str:
    """Replace `{{ name }}` with the variable's text; unknown placeholders stay as-is."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return _as_text(variables[name]) if name in variables else match.group(0)

    return _PLACEHOLDER.sub(replace, body)


def resolve_template_body(
    template_key: str,
    stored: Iterable[Any] | None = None,
    *,
    language: str = "ru",
    channel: str = "email",
) -> str:
    """Highest-version stored body for (key, language, channel), else the built-in body."""
    best: tuple[int, str] | None = None
    for row in stored or ():
        if (get(row, "template_key"), get(row, "language", "ru"), get(row, "channel", "email")) != (
            template_key,
            language,
            channel,
        ):
            continue
        body = get(row, "body")
        if not isinstance(body, str) or not body.strip():
            continue
        version = int(to_number(get(row, "version", 1), allow_str=True) or 1)
        if best is None or version > best[0]:
            best = (version, body)
    if best is not None:
        return best[1]
    return BUILTIN_TEMPLATES[template_key].body


def render_template(
    template_key: str,
    variables: Mapping[str, Any],
    *,
    stored: Iterable[Any] | None = None,
    rewriter: Callable[[str, str, Mapping[str, Any]], str | None] | None = None,
    max_len: int = 12000,
) -> str:
    """Resolve, render and (optionally) rewrite; an empty/failed rewrite keeps the rendered text."""
    rendered = render(resolve_template_body(template_key, stored), variables)
    if rewriter is not None:
        try:
            variant = rewriter(template_key, rendered, variables)
        except Exception:  # noqa: BLE001 - any rewriter failure falls back to the rendered text
            variant = None
        if isinstance(variant, str) and variant.strip():
            rendered = variant.strip()
    return rendered[:max_len]


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """Russian plural form for n (1 сигнал, 2 сигнала, 5 сигналов)."""
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many
