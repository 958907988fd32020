# ruff: noqa: E501 -- one query per line
"""The labelled search test set over the demo dataset (``tests/emulators/demo_data.py``).

Each Chatwoot conversation of the demo carries its topic as a label: that is the answer key. A
query names the topic it asks about; a retrieved chunk is relevant when its conversation has that
label (for ``cross`` queries: and the chunk is written in the *other* language, so only an answer
across languages counts). Queries are paraphrases written to share few words with the phrase
banks of ``tests/emulators/demo_texts.py``.

Metrics (per query, then averaged): ``recall@k`` = 1 when at least one relevant chunk is among the
first k results (success@k; a topic has dozens of relevant chunks, so the set-recall would be
meaningless at k = 10), ``MRR`` = 1 / rank of the first relevant chunk within the first 10, else 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    id: str
    kind: str  # "en" | "ru" | "cross"
    text: str
    topic: str
    answer_lang: str | None = None  # cross-lingual: the language the answer must be written in


QUERIES: tuple[Query, ...] = (
    # English, paraphrased
    Query("en-01", "en", "the bill we got has the wrong amount, it does not add up with the quote", "invoice"),
    Query("en-02", "en", "our money transfer to you will arrive later than planned", "payment_delay"),
    Query("en-03", "en", "the website went down right after you shipped the new version", "deployment_failure"),
    Query("en-04", "en", "people are unable to sign into their accounts", "login_bug"),
    Query("en-05", "en", "please rework the visuals: colours, typefaces and the banner artwork", "design_revision"),
    Query("en-06", "en", "are we going to make the go-live date on time?", "deadline"),
    Query("en-07", "en", "extend our maintenance agreement for another twelve months", "contract_renewal"),
    Query("en-08", "en", "visitors wait forever for pages to open", "performance"),
    Query("en-09", "en", "the phone application keeps shutting down unexpectedly", "mobile_crash"),
    Query("en-10", "en", "send us a spreadsheet dump of every client record for the auditors", "data_export"),
    Query("en-11", "en", "can you slip in one more small thing that was never in the plan", "scope_creep"),
    Query("en-12", "en", "management has not signed off yet, we are still waiting on their decision", "approval_waiting"),
    Query("en-13", "en", "we have less money to spend this quarter, can the work be trimmed?", "budget"),
    Query("en-14", "en", "thank you, everyone here is delighted with the result", "praise"),
    Query("en-15", "en", "we are unhappy with how slowly you respond and with the quality of work", "complaint"),
    # Russian, paraphrased
    Query("ru-01", "ru", "в документе на оплату ошибка в сумме, она расходится с расчётом", "invoice"),
    Query("ru-02", "ru", "деньги поступят позже, перевод задерживается", "payment_delay"),
    Query("ru-03", "ru", "после обновления на сервере всё сломалось и сайт недоступен", "deployment_failure"),
    Query("ru-04", "ru", "сотрудники не могут попасть в свои учётные записи, пароль не принимается", "login_bug"),
    Query("ru-05", "ru", "хотим другой цвет и шрифт в оформлении макетов", "design_revision"),
    Query("ru-06", "ru", "успеете ли сдать проект к назначенному дню?", "deadline"),
    Query("ru-07", "ru", "продлите соглашение о сопровождении ещё на год", "contract_renewal"),
    Query("ru-08", "ru", "страницы открываются мучительно долго", "performance"),
    Query("ru-09", "ru", "программа на телефоне самопроизвольно закрывается", "mobile_crash"),
    Query("ru-10", "ru", "сделайте таблицу со всеми сведениями о покупателях для проверки", "data_export"),
    Query("ru-11", "ru", "впишите ещё одну небольшую функцию сверх плана", "scope_creep"),
    Query("ru-12", "ru", "руководство пока не дало добро, ждём решения", "approval_waiting"),
    Query("ru-13", "ru", "денег стало меньше, давайте урежем работы", "budget"),
    Query("ru-14", "ru", "спасибо, мы в восторге от результата", "praise"),
    Query("ru-15", "ru", "недовольны скоростью ответов и качеством работы", "complaint"),
    # Cross-lingual: only an answer in the other language counts
    Query("x-01", "cross", "wrong total on the bill you sent us", "invoice", "ru"),
    Query("x-02", "cross", "the site is broken after the release, please revert it", "deployment_failure", "ru"),
    Query("x-03", "cross", "the app on the phone crashes when the shopping basket is opened", "mobile_crash", "ru"),
    Query("x-04", "cross", "we need all customer information exported for an audit", "data_export", "ru"),
    Query("x-05", "cross", "our spending limit was reduced, make it cheaper", "budget", "ru"),
    Query("x-06", "cross", "we will pay you late this month", "payment_delay", "ru"),
    Query("x-07", "cross", "пользователи не могут залогиниться", "login_bug", "en"),
    Query("x-08", "cross", "сайт сильно тормозит", "performance", "en"),
    Query("x-09", "cross", "мы разочарованы качеством вашей работы", "complaint", "en"),
    Query("x-10", "cross", "отличная работа, всем очень понравилось", "praise", "en"),
    Query("x-11", "cross", "переделайте макеты, поменяйте цвета", "design_revision", "en"),
    Query("x-12", "cross", "приложение падает на айфоне", "mobile_crash", "en"),
)

_CYR = re.compile(r"[а-яё]", re.IGNORECASE)
_LAT = re.compile(r"[a-z]", re.IGNORECASE)


def language(text: str) -> str:
    """``ru`` when Cyrillic letters outnumber Latin ones, else ``en``."""
    return "ru" if len(_CYR.findall(text)) > len(_LAT.findall(text)) else "en"


@dataclass(frozen=True)
class Doc:
    labels: frozenset[str]
    lang: str


def is_relevant(query: Query, doc: Doc | None) -> bool:
    if doc is None or query.topic not in doc.labels:
        return False
    return query.answer_lang is None or doc.lang == query.answer_lang


def score(queries: Sequence[Query], run: Callable[[Query], Sequence[str]], docs: Mapping[str, Doc],
          ) -> dict[str, object]:
    """recall@5, recall@10 and MRR@10 overall and per kind; ``run(query)`` returns chunk ids best first."""
    per_query = []
    for q in queries:
        ids = list(run(q))[:10]
        first = next((i for i, chunk_id in enumerate(ids, start=1) if is_relevant(q, docs.get(chunk_id))), None)
        per_query.append({"id": q.id, "kind": q.kind, "first_relevant_rank": first})

    def summary(rows: list[dict[str, object]]) -> dict[str, float]:
        n = len(rows) or 1
        ranks = [r["first_relevant_rank"] for r in rows]
        return {
            "queries": len(rows),
            "recall@5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4),
            "recall@10": round(sum(1 for r in ranks if r is not None) / n, 4),
            "mrr": round(sum(1 / r for r in ranks if r is not None) / n, 4),
        }

    out: dict[str, object] = {"all": summary(per_query)}
    for kind in ("en", "ru", "cross"):
        out[kind] = summary([r for r in per_query if r["kind"] == kind])
    out["per_query"] = {r["id"]: r["first_relevant_rank"] for r in per_query}
    return out
