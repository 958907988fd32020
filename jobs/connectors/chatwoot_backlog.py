"""The Chatwoot backlog: activity windows a truncated run still owes, and the walk that pays them back.

Why it exists and how it fits the run of §3.3 is written in ``jobs/connectors/chatwoot.py`` (module
docstring). Everything here is pure except ``ListPages``, which calls the vendor through the function
it is given.

A window ``[floor, below]`` owes every listed conversation whose activity lies in it and that is not
*settled*: selected in this run, or synced at exactly its listed activity (``SyncedIndex``; vendor
activity is in whole seconds, so many conversations share one). Windows are disjoint and kept newest
first, which is the order of the vendor's list (``last_activity_at`` descending).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.normalize import parse_ts, to_int

MAX_WINDOWS = 20  # beyond this the two oldest windows are merged (re-walks what lies between, loses nothing)
ACTIVITY_FIELDS = ("last_activity_at", "timestamp", "updated_at", "created_at")


def activity_of(item: Mapping[str, Any]) -> datetime | None:
    """A conversation's activity: ``parse_ts(last_activity_at or timestamp or updated_at or created_at)``."""
    for name in ACTIVITY_FIELDS:
        value = item.get(name)
        if value is not None and value != "":
            return parse_ts(value)
    return None


class ListPages:
    """The conversation list as read by one run: each page fetched at most once, at most ``limit`` pages
    in all (the normal selection and the backlog walk share the ``CHATWOOT_PAGES_LIMIT`` budget)."""

    def __init__(self, fetch: Callable[[int], list[dict[str, Any]]], limit: int) -> None:
        self.fetch, self.limit = fetch, limit
        self.cache: dict[int, list[dict[str, Any]]] = {}
        self.largest = 0

    def affordable(self, number: int) -> bool:
        return number in self.cache or len(self.cache) < self.limit

    def get(self, number: int) -> list[dict[str, Any]] | None:
        """Page ``number`` (from 1); None when it was not read yet and the page budget is spent."""
        if number not in self.cache:
            if len(self.cache) >= self.limit:
                return None
            items = self.fetch(number)
            self.cache[number] = items
            self.largest = max(self.largest, len(items))
        return self.cache[number]


@dataclass(frozen=True)
class SyncedIndex:
    """Conversations synced (not capped) at exactly the activity recorded for them, kept for the part of the
    list later runs look at again: the normal selection's overlap and the backlog windows. A conversation
    listed at its recorded activity has nothing new, so it never counts against a budget before new
    activity or owed conversations do."""

    at: Mapping[int, datetime] = field(default_factory=dict)

    def has(self, cid: int | None, activity: datetime | None) -> bool:
        return cid is not None and activity is not None and self.at.get(cid) == activity

    def updated(self, synced: Mapping[int, datetime], unsynced: Iterable[int],
                keep: Callable[[datetime], bool]) -> SyncedIndex:
        at = {**self.at, **synced}
        for cid in unsynced:
            at.pop(cid, None)
        return SyncedIndex({cid: a for cid, a in at.items() if keep(a)})

    def to_json(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for cid, activity in sorted(self.at.items(), key=lambda kv: (kv[1], kv[0])):
            groups.setdefault(activity.isoformat(), []).append(cid)
        return groups

    @classmethod
    def from_json(cls, value: Any) -> SyncedIndex:
        at: dict[int, datetime] = {}
        for key, ids in (value.items() if isinstance(value, Mapping) else ()):
            activity = parse_ts(key)
            if activity is not None and isinstance(ids, list):
                at.update((cid, activity) for cid in (to_int(i) for i in ids) if cid is not None)
        return cls(at)


@dataclass(frozen=True)
class BacklogWindow:
    """Owed activity ``[floor, below]`` (see the module docstring).

    ``since`` is the message history cut-off of the run that left the window owed. ``page`` is a hint: the
    list page where the owed conversations began when the window was last looked at. Other conversations
    gaining activity only push owed ones to later pages, and a jump to the hint is checked first, so a
    stale hint costs pages, never conversations.
    """

    floor: datetime
    below: datetime
    since: datetime
    page: int = 1

    def covers(self, activity: datetime | None) -> bool:
        return activity is not None and self.floor <= activity <= self.below

    def to_json(self) -> dict[str, Any]:
        return {"floor": self.floor.isoformat(), "below": self.below.isoformat(), "since": self.since.isoformat(),
                "page": self.page}

    @classmethod
    def from_json(cls, data: Any) -> BacklogWindow | None:
        if not isinstance(data, Mapping):
            return None
        floor, below, since = (parse_ts(data.get(name)) for name in ("floor", "below", "since"))
        if floor is None or below is None or floor > below:
            return None
        return cls(floor, below, since or floor, max(to_int(data.get("page")) or 1, 1))


# --- the backlog as a whole ----------------------------------------------------------------------------
def load_backlog(value: Any) -> list[BacklogWindow]:
    """The windows stored in the watermark's ``meta.backlog`` (absent or unreadable → none)."""
    items = value.get("windows") if isinstance(value, Mapping) else None
    return coalesce(w for w in (BacklogWindow.from_json(i) for i in items or ()) if w is not None)


def backlog_json(windows: list[BacklogWindow]) -> dict[str, Any] | None:
    """``meta.backlog``: the overall window still owed and its parts; None when nothing is owed."""
    if not windows:
        return None
    return {"floor": min(w.floor for w in windows).isoformat(), "below": max(w.below for w in windows).isoformat(),
            "windows": [w.to_json() for w in windows]}


def merge(upper: BacklogWindow, lower: BacklogWindow) -> BacklogWindow:
    return BacklogWindow(min(upper.floor, lower.floor), max(upper.below, lower.below), min(upper.since, lower.since),
                         min(upper.page, lower.page))


def coalesce(windows: Iterable[BacklogWindow]) -> list[BacklogWindow]:
    """Newest first, overlapping windows merged (the floor is the least floor), at most ``MAX_WINDOWS``."""
    out: list[BacklogWindow] = []
    for window in sorted(windows, key=lambda w: (w.below, w.floor), reverse=True):
        if out and window.below >= out[-1].floor:
            out[-1] = merge(out[-1], window)
        else:
            out.append(window)
    while len(out) > MAX_WINDOWS:
        out[-2:] = [merge(out[-2], out[-1])]
    return out


def message_since(windows: Iterable[BacklogWindow], since: datetime) -> datetime:
    """The backfill cut-off while windows are owed: the oldest ``since`` among them, so that a conversation
    the backlog owes keeps its history even when new activity brings it to the normal selection first."""
    return min([since, *(w.since for w in windows)])


def settle(remaining: list[BacklogWindow], picks: list[BacklogPick], capped_ids: set[int],
           new: BacklogWindow | None) -> list[BacklogWindow]:
    """The backlog after the run: what the walk left, capped backlog conversations (their forward fetch
    goes on, as §3.4's capped rule does for new activity) and the window a truncated selection left."""
    points = [BacklogWindow(a, a, p.window.since, p.page) for p in picks
              if to_int(p.item.get("id")) in capped_ids and (a := activity_of(p.item)) is not None]
    return coalesce([*remaining, *points, *([new] if new else [])])


# --- the walk ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BacklogPick:
    item: dict[str, Any]
    window: BacklogWindow
    page: int


@dataclass
class BacklogWalk:
    """Walks the conversation list after the normal selection and picks owed conversations, newest window
    first, until the conversation budget or the page budget is spent, the list ends, or every window's
    floor is passed. Pages the normal selection read are examined again from the cache for free."""

    windows: list[BacklogWindow]
    pages: ListPages
    handled: set[int]  # conversation ids already selected in this run
    synced: SyncedIndex
    budget: int  # conversations the walk may still select
    picks: list[BacklogPick] = field(default_factory=list)
    stop: str | None = "idle"  # idle (not run) | limit | pages | stalled | None (nothing left owed)
    current: int = 0  # index of the window being paid back
    page: int = 1
    index: int = 0
    hint: int = 1  # where the current window's owed conversations begin, for the next run
    low: datetime | None = None  # lowest activity examined while in the current window
    seen: set[int] = field(default_factory=set)

    def run(self) -> BacklogWalk:
        if self.budget <= 0 or not self.windows:
            return self  # stays idle: every window is kept as it was
        self.stop, self.handled = None, set(self.handled)
        going = self.seek() is not False
        while going:
            going = self.step()
        return self

    def remaining(self) -> list[BacklogWindow]:
        """The windows still owed once the walk is over; the current one now ends at the lowest activity
        examined (everything above it was settled or picked)."""
        if self.stop == "idle":
            return list(self.windows)
        if self.stop is None or self.current >= len(self.windows):
            return []
        window = self.windows[self.current]
        below = window.below if self.low is None else min(window.below, self.low)
        return [replace(window, below=below, page=self.hint), *self.windows[self.current + 1:]]

    def settled(self, cid: int, activity: datetime) -> bool:
        return cid in self.handled or self.synced.has(cid, activity)

    def step(self) -> bool:
        """Examine the rest of the current page; False when the walk is over."""
        items = self.pages.get(self.page)
        if items is None:
            return self.halt_at("pages", self.page)
        if not items:
            return self.finish()
        new = 0
        while self.index < len(items):
            item = items[self.index]
            self.index += 1
            cid = to_int(item.get("id"))
            if cid is None or cid in self.seen:
                continue
            self.seen.add(cid)
            new += 1
            moved = self.examine(cid, item)
            if moved is not None:
                return moved
        if len(items) < self.pages.largest:
            return self.finish()  # the last page: nothing older exists
        if new == 0:
            return self.halt_at("stalled", self.page)
        self.page, self.index = self.page + 1, 0
        return True

    def examine(self, cid: int, item: dict[str, Any]) -> bool | None:
        """None to go on with the page; True after a jump; False when the walk is over."""
        activity = activity_of(item)
        if activity is None:
            return None
        while activity < self.windows[self.current].floor:
            moved = self.next_window()
            if moved is not None:
                return moved
        window = self.windows[self.current]
        picked = window.covers(activity) and not self.settled(cid, activity)
        if picked:
            self.picks.append(BacklogPick(item, window, self.page))
            self.handled.add(cid)
        self.low = activity if self.low is None else min(self.low, activity)
        if picked and len(self.picks) >= self.budget:
            return self.halt_at("limit", self.page)
        return None

    def next_window(self) -> bool | None:
        """The current window is paid back; move to the next one (and to its page when that is further)."""
        self.current += 1
        self.low = None
        if self.current >= len(self.windows):
            return self.finish()
        return self.seek()

    def nothing_owed_before(self, first: dict[str, Any]) -> bool:
        """True when no conversation listed before ``first`` (the first item of a page) can be owed."""
        window, activity, cid = self.windows[self.current], activity_of(first), to_int(first.get("id"))
        if activity is None or cid is None:
            return False
        return activity > window.below or (activity == window.below and self.settled(cid, activity))

    def seek(self) -> bool | None:
        """Jump to the current window's page hint when it lies ahead and checks out, stepping back a page at a
        time while it does not. None: go on from the current position; True: jumped; False: out of pages.

        A hint page whose first item is owed does not check out (conversations deleted upstream may have
        moved owed ones onto the page before). When the page budget cannot pay for that step back, the hint
        is trusted: it is exact unless something was deleted, and a walk that never reaches the page would
        never pay the window back."""
        for number in range(self.windows[self.current].page, self.page, -1):
            items = self.pages.get(number)
            if items is None:
                return self.halt_at("pages", number)
            trusted = bool(items) and number - 1 > self.page and not self.pages.affordable(number - 1)
            if trusted or (items and self.nothing_owed_before(items[0])):
                self.page, self.index = number, 0
                return True
        return None

    def finish(self) -> bool:
        self.current = len(self.windows)
        return False

    def halt_at(self, reason: str, page: int) -> bool:
        self.stop, self.hint = reason, page
        return False
