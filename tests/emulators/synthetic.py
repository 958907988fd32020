"""Generated Chatwoot accounts for benchmarks: a small spec, messages materialised on demand.

    {"chatwoot": {"token": "t", "generate": {"account_id": 1, "conversations": 2000,
                                             "messages_per_conversation": 50}}}

Optional keys: `seed` (0), `inboxes` (3), `contacts` (conversations // 3), `now` (epoch seconds or
ISO; default: load time), `span_days` (30), `gap_seconds` (90, between two messages).
Conversation `i` (1-based) holds message ids `(i - 1) * n + 1 … i * n`; conversation activity grows
with `i`. Only the conversation list lives in memory; a message page is built from arithmetic, so
100k+ messages cost nothing until read. A mutation turns that one conversation into a plain list.
"""

from __future__ import annotations

import random
from typing import Any

from . import chatwoot as cw
from .demo_texts import sample_message
from .state import to_datetime, utc_now

STATUSES = ("open", "open", "resolved", "pending", "resolved", "snoozed")
CHANNELS = ("Channel::WebWidget", "Channel::Email", "Channel::Telegram", "Channel::Whatsapp", "Channel::Api")


class GeneratedMessages:
    """Messages of one generated conversation; ids and created_at both increase with the index."""

    def __init__(self, gen: GeneratedAccount, index: int) -> None:
        self.gen, self.index = gen, index
        self.first_id = index * gen.per_conversation + 1
        self.count = gen.per_conversation

    def _make(self, k: int) -> dict[str, Any]:
        return self.gen.message(self.index, k, self.first_id + k)

    def _span(self, lo: int, hi: int) -> list[dict[str, Any]]:
        lo, hi = max(0, lo), min(self.count, hi)
        return [self._make(k) for k in range(lo, hi)]

    def _pos(self, message_id: int) -> int:
        return min(max(message_id - self.first_id, 0), self.count)

    def select(self, before: int | None, after: int | None) -> list[dict[str, Any]]:
        if before is not None and after is not None:
            lo = self._pos(after)
            return self._span(lo, min(self._pos(before), lo + cw.BETWEEN))
        if before is not None:
            end = self._pos(before)
            return self._span(end - cw.BEFORE, end)
        if after is not None:
            start = self._pos(after + 1)
            return self._span(start, start + cw.AFTER)
        return self._span(self.count - cw.LATEST, self.count)

    def last(self) -> dict[str, Any] | None:
        return self._make(self.count - 1) if self.count else None

    def all(self) -> list[dict[str, Any]]:
        return self._span(0, self.count)

    def max_id(self) -> int:
        return self.first_id + self.count - 1


class GeneratedAccount:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.account_id = int(spec["account_id"])
        self.n_conversations = int(spec.get("conversations", 100))
        self.per_conversation = int(spec.get("messages_per_conversation", 10))
        self.seed = int(spec.get("seed", 0))
        self.n_inboxes = max(1, int(spec.get("inboxes", 3)))
        self.n_contacts = max(1, int(spec.get("contacts", self.n_conversations // 3 or 1)))
        now = to_datetime(spec.get("now")) or utc_now()
        self.gap = int(spec.get("gap_seconds", 90))
        span = int(float(spec.get("span_days", 30)) * 86400)
        duration = self.gap * max(0, self.per_conversation - 1)
        self.origin = int(now.timestamp()) - span
        self.stride = max(1, (span - duration) // max(1, self.n_conversations))
        self.agents = [cw.agent(i, name, f"agent{i}@agency.example")
                       for i, name in enumerate(("Anna Kowalski", "Mark Davies", "Ольга Смирнова"), 1)]

    def start(self, index: int) -> int:
        return self.origin + index * self.stride

    def contact(self, index: int) -> dict[str, Any]:
        cid = index % self.n_contacts + 1
        return cw.contact(cid, f"Contact {cid}", email=f"contact{cid}@client.example",
                          phone_number=f"+1555{cid:07d}", created_at=self.origin)

    def conversation(self, index: int) -> dict[str, Any]:
        rng = random.Random(self.seed * 7_919 + index)
        inbox_id = index % self.n_inboxes + 1
        last = self.start(index) + self.gap * max(0, self.per_conversation - 1)
        return cw.conversation(
            index + 1, inbox_id=inbox_id, status=rng.choice(STATUSES), sender=self.contact(index),
            last_activity_at=last, created_at=self.start(index), account_id=self.account_id,
            assignee=rng.choice([*self.agents, None]), channel=CHANNELS[(inbox_id - 1) % len(CHANNELS)])

    def message(self, index: int, k: int, message_id: int) -> dict[str, Any]:
        rng = random.Random(self.seed * 1_000_003 + message_id)
        incoming = k % 2 == 0
        kind = 0 if incoming else 1
        private = not incoming and k % 17 == 5
        content = sample_message(rng, incoming=incoming)
        if k % 23 == 11:
            kind, private, content = 2, False, "Conversation was marked resolved by Anna Kowalski"
        sender = None if kind == 2 else self.contact(index) if incoming else self.agents[index % len(self.agents)]
        return cw.message(message_id, index + 1, content=content, message_type=kind,
                          created_at=self.start(index) + k * self.gap, sender=sender, private=private,
                          account_id=self.account_id, inbox_id=index % self.n_inboxes + 1)


def generate_account(spec: dict[str, Any]) -> cw.Account:
    gen = GeneratedAccount(spec)
    inboxes = [cw.inbox(i, f"Inbox {i}", CHANNELS[(i - 1) % len(CHANNELS)]) for i in range(1, gen.n_inboxes + 1)]
    conversations = [gen.conversation(i) for i in range(gen.n_conversations)]
    messages: dict[int, cw.MessageSource] = {
        i + 1: GeneratedMessages(gen, i) for i in range(gen.n_conversations)
    }
    return cw.Account(gen.account_id, inboxes, conversations, messages)
