"""Deterministic bilingual demo dataset for a service agency ("Pinewood Studio").

`build_demo_fixtures(now)` returns the `POST /__emu/fixtures` body: six client companies (three
writing mostly English, three mostly Russian), ~250 Chatwoot conversations, Attio companies /
people / deals with stage history and notes, and Linear projects, workflow states, cycles and ~150
issues. Everything comes from a seeded `random.Random`; timestamps are offsets from `now`, so the
data always looks recent and two calls with the same `now` are identical. Each conversation carries
its topic as a Chatwoot label (ground truth for search evaluation).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import attio, chatwoot, linear
from .demo_texts import ACTIVITY, GREETINGS, ISSUES, NOTES, NUDGES, PRIVATE_NOTES, SIGN_OFFS, TOPICS, fill
from .state import iso_ms, to_datetime, utc_now

DEMO_SEED = 1729
DEMO_CHATWOOT_ACCOUNT_ID = 7
DEMO_CHATWOOT_TOKEN = "demo-chatwoot-token"
DEMO_ATTIO_WORKSPACE_ID = "5b2f8d3e-6a41-4c8e-9f27-1d0b7e3a9c54"
DEMO_ATTIO_TOKEN = "demo-attio-token"
DEMO_LINEAR_ORG_ID = "8c1e4f2a-3b7d-4e95-a0c6-52d9f1e7b3a8"
DEMO_LINEAR_TOKEN = "lin_api_demo_token"
DEMO_OPENAI_KEY = "sk-demo-key"
DEMO_OPENAI_DIM = 1536
DEMO_CONVERSATIONS = 250
DEMO_ISSUES = 150

_NS = uuid.UUID("6f1c2b0e-0d5e-4f44-9a51-3c1e8d7f2a90")


def _id(*parts: Any) -> str:
    return str(uuid.uuid5(_NS, ":".join(map(str, parts))))


@dataclass(frozen=True)
class Client:
    key: str
    name: str
    lang: str
    domain: str
    contacts: tuple[tuple[str, str, str], ...]  # first, last, job title
    project: str
    team: str  # "DEL" or "MOB"
    topics: tuple[str, ...]  # most frequent first


CLIENTS = (
    Client("northwind", "Northwind Logistics", "en", "northwind-logistics.com",
           (("Emily", "Carter", "Head of Product"), ("James", "O'Neill", "CTO"),
            ("Sofia", "Lindqvist", "Finance Manager")),
           "Northwind Driver App", "MOB",
           ("mobile_crash", "deployment_failure", "login_bug", "deadline", "invoice", "scope_creep", "praise")),
    Client("brightleaf", "Brightleaf Health", "en", "brightleaf.health",
           (("Priya", "Raman", "Marketing Director"), ("Daniel", "Brooks", "IT Lead")),
           "Patient Portal Redesign", "DEL",
           ("design_revision", "approval_waiting", "data_export", "login_bug", "performance", "complaint")),
    Client("lumen", "Lumen Pay", "en", "lumenpay.io",
           (("Sergei", "Ivanov", "COO"), ("Hannah", "Weiss", "Growth Lead")),
           "Lumen Pay Growth Site", "DEL",
           ("performance", "budget", "contract_renewal", "praise", "complaint", "payment_delay")),
    Client("romashka", "Ромашка Ритейл", "ru", "romashka-retail.ru",
           (("Ирина", "Соколова", "Директор по маркетингу"), ("Дмитрий", "Козлов", "Финансовый директор")),
           "Интернет-магазин Ромашка", "DEL",
           ("payment_delay", "invoice", "performance", "scope_creep", "deadline", "budget")),
    Client("vektor", "Вектор Девелопмент", "ru", "vektor-dev.ru",
           (("Алексей", "Морозов", "Руководитель ИТ"), ("Екатерина", "Волкова", "Менеджер проекта")),
           "CRM-интеграция Вектор", "DEL",
           ("data_export", "deployment_failure", "contract_renewal", "budget", "approval_waiting", "invoice")),
    Client("pekar", "Сибирский пекарь", "ru", "sibpekar.ru",
           (("Наталья", "Лебедева", "Владелец"), ("Павел", "Орлов", "Операционный директор")),
           "Мобильное приложение доставки", "MOB",
           ("mobile_crash", "design_revision", "approval_waiting", "praise", "login_bug", "scope_creep")),
)
PROSPECTS = (("Orbit Analytics", "orbit-analytics.com", "en"), ("Балтийская логистика", "baltlog.ru", "ru"))
AGENTS = ((1, "Anna Kowalski", "en"), (2, "Mark Davies", "en"), (3, "Ольга Смирнова", "ru"), (4, "Илья Петров", "ru"))
INBOXES = ((1, "Website chat", "Channel::WebWidget"), (2, "Support email", "Channel::Email"),
           (3, "Telegram", "Channel::Telegram"), (4, "WhatsApp", "Channel::Whatsapp"))
DEVELOPERS = ("Ivan Sokolov", "Maria Garcia", "Tom Becker", "Дарья Кузнецова", "Никита Зайцев")


def build_demo_fixtures(now: datetime | float | str | None = None, seed: int = DEMO_SEED) -> dict[str, Any]:
    """The demo dataset as emulator fixtures (`chatwoot`, `attio`, `linear`, `openai`)."""
    moment = (to_datetime(now) or utc_now()).replace(microsecond=0)
    return {
        "chatwoot": _chatwoot(random.Random(seed), moment),
        "attio": _attio(random.Random(seed + 1), moment),
        "linear": _linear(random.Random(seed + 2), moment),
        "openai": {"key": DEMO_OPENAI_KEY, "dim": DEMO_OPENAI_DIM},
    }


# ----------------------------------------------------------------------------------------------
# Chatwoot


def _other(lang: str) -> str:
    return "ru" if lang == "en" else "en"


def _contacts(now: datetime) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    next_id = 101
    for client in CLIENTS:
        out[client.key] = []
        for first, last, title in client.contacts:
            email = f"{_latin(first)}.{_latin(last)}@{client.domain}".lower().replace("'", "")
            out[client.key].append(chatwoot.contact(
                next_id, f"{first} {last}", email=email, phone_number=f"+7900{next_id:07d}",
                identifier=f"crm-{next_id}", custom_attributes={"company": client.name, "job_title": title},
                additional_attributes={"company_name": client.name},
                created_at=int((now - timedelta(days=200)).timestamp())))
            next_id += 1
    return out


_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
                      "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"], strict=True))


def _latin(text: str) -> str:
    return "".join(_TRANSLIT.get(c, c) for c in text.lower())


def _decorate(text: str, rng: random.Random, lang: str, first: str, agent_first: str) -> str:
    greeting = fill(rng.choice(GREETINGS[lang]), rng, lang, agent_first=agent_first)
    sign_off = fill(rng.choice(SIGN_OFFS[lang]), rng, lang, first=first)
    return " ".join(part for part in (greeting, text, sign_off) if part)


def _script(rng: random.Random, topic: str, lang: str, silent: bool) -> list[tuple[str, str]]:
    """(role, text) turns; role is client, agent, note, assigned or resolved."""
    bank = TOPICS[topic][lang]
    unused: dict[str, list[str]] = {}

    def say(role: str) -> str:  # no phrase twice in a conversation until the pool runs out
        if not unused.get(role):
            unused[role] = rng.sample(bank[role], len(bank[role]))
        return fill(unused[role].pop(), rng, lang)

    if silent:
        turns = [("agent", say("reply"))]
        turns += [("agent", fill(nudge, rng, lang, name="{name}"))  # {name}: the contact, filled later
                  for nudge in rng.sample(NUDGES[lang], rng.randint(1, 2))]
        return turns
    if topic == "approval_waiting":
        turns = [("agent", say("reply")), ("client", say("open"))]
        if rng.random() < 0.5:
            turns += [("agent", say("reply")), ("client", say("follow"))]
        if rng.random() < 0.35:
            turns += [("client", say("close")), ("resolved", "")]
        return turns
    turns = [("client", say("open")), ("agent", say("reply"))]
    for _ in range(rng.choice((0, 1, 1, 2))):
        turns += [("client", say("follow")), ("agent", say("reply"))]
    if rng.random() < 0.08:
        turns.insert(1, ("note", rng.choice(PRIVATE_NOTES[lang])))
    if rng.random() < 0.2:
        turns.insert(1, ("assigned", ""))
    if rng.random() < 0.55:
        turns += [("client", say("close")), ("resolved", "")]
    return turns


def _chatwoot(rng: random.Random, now: datetime) -> dict[str, Any]:
    acc = DEMO_CHATWOOT_ACCOUNT_ID
    agents = {lang: [chatwoot.agent(i, n, f"{_latin(n.split()[0])}@pinewood.studio") for i, n, lg in AGENTS
                     if lg == lang] for lang in ("en", "ru")}
    contacts = _contacts(now)
    drafts = []
    for n in range(DEMO_CONVERSATIONS):
        client = rng.choice(CLIENTS)
        contact = rng.choice(contacts[client.key])
        lang = client.lang if rng.random() < 0.85 else _other(client.lang)
        topic = rng.choice(client.topics[:3]) if rng.random() < 0.5 else rng.choice(client.topics)
        silent = rng.random() < 0.1
        agent = rng.choice(agents[lang])
        turns = _script(rng, topic, lang, silent)
        if silent:
            end = now - timedelta(days=rng.uniform(4.5, 14))
        else:
            end = now - timedelta(days=min(60.0, rng.expovariate(1 / 8)), minutes=rng.randint(1, 600))
        times = [end]
        for _ in turns[1:]:
            times.append(times[-1] - timedelta(minutes=rng.choice((3, 12, 45, 90, 240, 600, 1500, 2900))))
        times.reverse()
        resolved = turns[-1][0] == "resolved"
        status = "resolved" if resolved else rng.choice(("open", "open", "pending", "snoozed"))
        drafts.append((n, client, contact, lang, topic, silent, agent, turns, times, status))

    # Ids follow creation order, as in Chatwoot: conversations by first message, messages globally.
    drafts.sort(key=lambda d: d[8][0])
    conversations, flat = [], []
    inbox_by_lang = {"en": (1, 2), "ru": (3, 4, 2)}
    for cid, (_, _client, contact, lang, topic, silent, agent, turns, times, status) in enumerate(drafts, 1):
        inbox_id = rng.choice(inbox_by_lang[lang])
        first, agent_first = contact["name"].split()[0], agent["name"].split()[0]
        for (role, text), at in zip(turns, times, strict=True):
            if role == "client":
                text = _decorate(text, rng, lang, first, agent_first)
            text = text.replace("{name}", first)
            flat.append((int(at.timestamp()), cid, role, text, contact, agent, inbox_id, lang))
        labels = [topic] + (["no-reply"] if silent else [])
        conversations.append(chatwoot.conversation(
            cid, inbox_id=inbox_id, status=status, sender=contact, last_activity_at=int(times[-1].timestamp()),
            created_at=int(times[0].timestamp()), account_id=acc, assignee=agent, labels=labels,
            channel=INBOXES[inbox_id - 1][2], priority=rng.choice((None, None, "low", "medium", "high", "urgent"))))
    flat.sort(key=lambda m: (m[0], m[1]))
    messages: dict[str, list[dict[str, Any]]] = {}
    for mid, (at, cid, role, text, contact, agent, inbox_id, lang) in enumerate(flat, 1001):
        if role in ("resolved", "assigned"):
            kind, sender, private = "activity", None, False
            text = fill(ACTIVITY[lang][role == "assigned"], rng, lang, agent=agent["name"])
        else:
            kind = "incoming" if role == "client" else "outgoing"
            sender, private = (contact if role == "client" else agent), role == "note"
        messages.setdefault(str(cid), []).append(chatwoot.message(
            mid, cid, content=text, message_type=kind, created_at=at, sender=sender, private=private,
            account_id=acc, inbox_id=inbox_id))
    _special_messages(messages, acc)
    return {
        "token": DEMO_CHATWOOT_TOKEN,
        "accounts": {str(acc): {
            "inboxes": [chatwoot.inbox(i, name, channel) for i, name, channel in INBOXES],
            "conversations": conversations,
            "messages": messages,
        }},
    }


def _special_messages(messages: dict[str, list[dict[str, Any]]], acc: int) -> None:
    """One attachment-only message, one empty message, one deleted message, a few PDF invoices."""
    def first_incoming(start: int) -> dict[str, Any]:
        """The first client message of conversation `start` or of the next one that has any."""
        for cid in range(start, len(messages) + 1):
            found = next((m for m in messages[str(cid)] if m["message_type"] == 0), None)
            if found is not None:
                return found
        raise LookupError("no incoming message left")

    attachment_only = first_incoming(17)
    attachment_only["content"] = None
    attachment_only["attachments"] = [chatwoot.attachment(9001, attachment_only["id"], acc)]
    first_incoming(42)["content"] = ""
    deleted = first_incoming(63)
    deleted.update(content=chatwoot.DELETED_TEXT, content_attributes={"deleted": True})
    for n, cid in enumerate((8, 95, 150), 9002):
        msg = first_incoming(cid)
        msg["attachments"] = [chatwoot.attachment(n, msg["id"], acc, file_type="file", extension="pdf",
                                                  file_size=182_304)]


# ----------------------------------------------------------------------------------------------
# Attio

STAGE_PATHS = (
    ("Lead", "Qualified", "Proposal", "Negotiation", "Won 🎉"),
    ("Lead", "Qualified", "Proposal", "Negotiation"),
    ("Lead", "Qualified", "Proposal"),
    ("Lead", "Qualified", "Lost"),
    ("Lead", "Qualified"),
    ("Lead",),
)
PROBABILITY = {"Lead": 0.1, "Qualified": 0.25, "Proposal": 0.5, "Negotiation": 0.7, "Won 🎉": 1.0, "Lost": 0.0}
DEAL_NAMES = {
    "en": ("Support retainer renewal", "Phase 2 development", "Mobile app redesign", "Performance audit"),
    "ru": ("Продление поддержки", "Второй этап разработки", "Редизайн мобильного приложения",
           "Аудит производительности"),
}
NEXT_STEPS = {
    "en": ("Send revised proposal", "Schedule demo with the CTO", "Wait for legal review", "", "Call"),
    "ru": ("Отправить обновлённое КП", "Назначить демо с ИТ-директором", "Ждём согласования юристов", "", "Звонок"),
}


def _attio(rng: random.Random, now: datetime) -> dict[str, Any]:
    ws = DEMO_ATTIO_WORKSPACE_ID
    companies, people, deals, notes = [], [], [], []
    orgs = [(c.name, c.domain, c.lang, c.key, c.contacts) for c in CLIENTS]
    orgs += [(name, domain, lang, _latin(name), ()) for name, domain, lang in PROSPECTS]
    for index, (name, domain, lang, key, contacts) in enumerate(orgs):
        created = now - timedelta(days=420 - index * 31)
        company_id = _id("attio", "company", key)
        currency_code = "USD" if lang == "en" else "RUB"
        companies.append(attio.record("companies", company_id, workspace_id=ws, created_at=created, values={
            "name": [attio.text(name, created)],
            "domains": [attio.domain(domain, created)],
            "description": [attio.text(f"Client of Pinewood Studio since {created:%B %Y}." if lang == "en"
                                       else f"Клиент Pinewood Studio с {created:%m.%Y}.", created)],
            "stage": [attio.status("Active" if contacts else "Prospect", created, workspace_id=ws)],
            "annual_revenue": [attio.currency(float(rng.randint(2, 90) * 1_000_000), created, currency_code)],
        }))
        for first, last, title in contacts:
            pid = _id("attio", "person", key, first, last)
            at = created + timedelta(days=rng.randint(1, 30))
            email = f"{_latin(first)}.{_latin(last)}@{domain}".lower().replace("'", "")
            people.append(attio.record("people", pid, workspace_id=ws, created_at=at, values={
                "name": [attio.personal_name(first, last, at)],
                "email_addresses": [attio.email(email, at)],
                "job_title": [attio.text(title, at)],
                "company": [attio.record_ref("companies", company_id, at)],
            }))
        for d in range(1 if not contacts else rng.choice((1, 2, 2))):
            deals.append(_deal(rng, now, ws, key, lang, company_id, currency_code, d))
        for n in range(rng.randint(2, 4) if contacts else 1):
            title, content = rng.choice(NOTES[lang])
            at = now - timedelta(days=rng.uniform(0.5, 60))
            text = fill(content, rng, lang, company=name)
            notes.append(attio.note(_id("attio", "note", key, n), workspace_id=ws, parent_object="companies",
                                    parent_record_id=company_id, title=title, content=text, created_at=at,
                                    actor_id=_id("attio", "member", n % 3)))
    deals.sort(key=lambda r: r["created_at"])
    return {"token": DEMO_ATTIO_TOKEN, "workspace_id": ws, "workspace_name": "Pinewood Studio",
            "objects": {"companies": companies, "people": people, "deals": deals}, "notes": notes}


def _deal(rng: random.Random, now: datetime, ws: str, key: str, lang: str, company_id: str,
          currency_code: str, n: int) -> dict[str, Any]:
    path = rng.choice(STAGE_PATHS)
    start = now - timedelta(days=rng.uniform(20, 160))
    stamps = [start]
    for _ in path[1:]:
        stamps.append(stamps[-1] + timedelta(days=rng.uniform(2, 18)))
    stamps = [min(s, now - timedelta(hours=1)) for s in stamps]
    stage = path[-1]
    value = float(rng.randint(4, 60) * (1000 if currency_code == "USD" else 100_000))
    close = (stamps[-1] + timedelta(days=rng.randint(-10, 45))).date().isoformat()
    values = {
        "name": [attio.text(rng.choice(DEAL_NAMES[lang]), start)],
        "stage": attio.stage_history(list(zip(path, stamps, strict=True)), ws),
        "value": [attio.currency(value, start, currency_code)],
        "associated_company": [attio.record_ref("companies", company_id, start)],
        "probability": [attio.number(PROBABILITY[stage], stamps[-1])],
        "expected_close_date": [attio.date(close, start)],
        "owner": [attio.entry("actor-reference", start, referenced_actor_type="workspace-member",
                              referenced_actor_id=_id("attio", "member", n))],
    }
    next_step = rng.choice(NEXT_STEPS[lang])
    if next_step and stage not in ("Won 🎉", "Lost"):
        values["next_step"] = [attio.text(next_step, stamps[-1])]
    return attio.record("deals", _id("attio", "deal", key, n), workspace_id=ws, created_at=start, values=values)


# ----------------------------------------------------------------------------------------------
# Linear

STATES = (("Backlog", "backlog", 0.0), ("Todo", "unstarted", 1.0), ("In Progress", "started", 2.0),
          ("In Review", "started", 2.5), ("Blocked", "started", 2.75), ("Done", "completed", 3.0),
          ("Canceled", "canceled", 4.0))
STATE_WEIGHTS = (12, 15, 20, 8, 3, 37, 5)
LABELS = {"deployment_failure": "DevOps", "login_bug": "Bug", "performance": "Performance",
          "mobile_crash": "Crash", "data_export": "Data", "design_revision": "Design", "invoice": "Billing",
          "scope_creep": "Change request", "deadline": "Release"}


def _linear(rng: random.Random, now: datetime) -> dict[str, Any]:
    org = DEMO_LINEAR_ORG_ID
    teams = {key: {"id": _id("linear", "team", key), "name": name, "key": key}
             for key, name in (("DEL", "Delivery"), ("MOB", "Mobile"))}
    created = iso_ms(now - timedelta(days=400))
    states = {(key, name): linear.workflow_state(_id("linear", "state", key, name), name, kind, pos, team["id"],
                                                 created)
              for key, team in teams.items() for name, kind, pos in STATES}
    cycles = []
    for key, team in teams.items():
        for k, number in enumerate(range(12, 16)):
            starts = now - timedelta(days=(3 - k) * 14 + 7)
            done = starts + timedelta(days=14) < now
            cycles.append({"id": _id("linear", "cycle", key, number), "number": number,
                           "name": None if number % 2 else f"Sprint {number}",
                           "startsAt": iso_ms(starts), "endsAt": iso_ms(starts + timedelta(days=14)),
                           "completedAt": iso_ms(starts + timedelta(days=14)) if done else None,
                           "progress": 1.0 if done else (0.45 if starts < now else 0.0),
                           "createdAt": iso_ms(starts - timedelta(days=14)),
                           "updatedAt": iso_ms(min(now, starts + timedelta(days=14))), "team": {"id": team["id"]}})
    projects = []
    for n, client in enumerate(CLIENTS):
        status = ({"name": "Completed", "type": "completed"} if n == 2 else {"name": "In Progress", "type": "started"})
        at = now - timedelta(days=300 - n * 30)
        projects.append({"id": _id("linear", "project", client.key), "name": client.project, "status": status,
                         "createdAt": iso_ms(at), "updatedAt": iso_ms(now - timedelta(days=n + 1)),
                         "lead": {"name": DEVELOPERS[n % len(DEVELOPERS)]}, "archivedAt": None})
    issues = _issues(rng, now, teams, states, cycles)
    return {"token": DEMO_LINEAR_TOKEN, "organization": linear.organization(org, "Pinewood Studio", "pinewood"),
            "teams": list(teams.values()), "projects": projects, "workflowStates": list(states.values()),
            "cycles": cycles, "issues": issues}


def _issues(rng: random.Random, now: datetime, teams: dict[str, dict[str, Any]],
            states: dict[tuple[str, str], dict[str, Any]], cycles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    drafts = []
    for n in range(DEMO_ISSUES):
        client = CLIENTS[n % len(CLIENTS)]
        lang = client.lang if rng.random() < 0.85 else _other(client.lang)
        topic = rng.choice([t for t in client.topics if t in ISSUES] or list(ISSUES))
        title, description = rng.choice(ISSUES[topic][lang])
        ctx: dict[str, Any] = {}
        title, description = fill(title, rng, lang, **ctx), fill(description, rng, lang, **ctx)
        created = now - timedelta(days=rng.uniform(1, 90))
        state_name = rng.choices([s[0] for s in STATES], STATE_WEIGHTS)[0]
        if state_name == "Blocked" and client.team != "DEL":
            state_name = "In Progress"
        drafts.append((created, client, lang, topic, title, description, state_name))
    drafts.sort(key=lambda d: d[0])
    numbers = {"DEL": 0, "MOB": 0}
    issues: list[dict[str, Any]] = []
    by_project: dict[str, list[dict[str, Any]]] = {}
    for created, client, _lang, topic, title, description, state_name in drafts:
        team = teams[client.team]
        numbers[client.team] += 1
        identifier = f"{client.team}-{numbers[client.team]}"
        state = states[(client.team, state_name)]
        stale = state_name == "In Progress" and rng.random() < 0.3
        age = (now - created).total_seconds()
        updated = (now - timedelta(days=rng.uniform(20, 45)) if stale
                   else created + timedelta(seconds=age * rng.uniform(0.2, 1.0)))
        updated = max(updated, created)
        team_cycles = [c for c in cycles if c["team"]["id"] == team["id"]]
        fields: dict[str, Any] = {
            "description": description,
            "priority": rng.choice((0, 1, 2, 2, 3, 3, 4)),
            "project": {"id": _id("linear", "project", client.key)},
            "assignee": {"name": rng.choice(DEVELOPERS)} if rng.random() < 0.85 else None,
            "labels": {"nodes": [{"id": _id("linear", "label", LABELS[topic]), "name": LABELS[topic]}]},
            "cycle": {"id": rng.choice(team_cycles)["id"]} if rng.random() < 0.6 else None,
        }
        if rng.random() < 0.4:
            fields["dueDate"] = (created + timedelta(days=rng.randint(7, 60))).date().isoformat()
        if state_name == "Done":
            fields["completedAt"] = iso_ms(updated)
        elif state_name == "Canceled":
            fields["canceledAt"] = iso_ms(updated)
        if state_name in ("Done", "Canceled") and (now - updated).days > 20 and rng.random() < 0.5:
            fields["archivedAt"] = iso_ms(updated + timedelta(days=rng.uniform(1, 5)))
        siblings = by_project.setdefault(client.key, [])
        if siblings and (state_name == "Blocked" or rng.random() < 0.07):
            fields["blocked_by"] = [rng.choice(siblings)["id"]]
        node = linear.issue(_id("linear", "issue", identifier), identifier, title, team_id=team["id"], state=state,
                            created_at=iso_ms(created), updated_at=iso_ms(updated), url_key="pinewood", **fields)
        siblings.append(node)
        issues.append(node)
    return issues
