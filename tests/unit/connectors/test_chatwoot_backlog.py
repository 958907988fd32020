"""The Chatwoot backlog's pure parts (jobs/connectors/chatwoot_backlog.py): windows, the synced index, the walk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.connectors.chatwoot import ConversationSelector
from jobs.connectors.chatwoot_backlog import (
    MAX_WINDOWS,
    BacklogPick,
    BacklogWalk,
    BacklogWindow,
    ListPages,
    SyncedIndex,
    backlog_json,
    coalesce,
    load_backlog,
    message_since,
    settle,
)


def t(x: int) -> datetime:
    return datetime.fromtimestamp(x, UTC)


def window(floor: int, below: int, since: int | None = None, page: int = 1) -> BacklogWindow:
    return BacklogWindow(t(floor), t(below), t(since if since is not None else floor), page)


def listing(*activities: int, size: int = 5) -> list[list[dict[str, Any]]]:
    """Pages of ``size`` conversations, ids descending from 1000, with the given activities (descending)."""
    items = [{"id": 1000 - n, "last_activity_at": a} for n, a in enumerate(activities)]
    return [items[i:i + size] for i in range(0, len(items), size)]


class Vendor:
    """The list pages, recording which page numbers were requested."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages, self.requested = pages, []

    def __call__(self, number: int) -> list[dict[str, Any]]:
        self.requested.append(number)
        return self.pages[number - 1] if number <= len(self.pages) else []


def walk(pages: list[list[dict[str, Any]]], windows: list[BacklogWindow], *, budget: int = 100, page_limit: int = 10,
         handled: set[int] | None = None, synced: SyncedIndex | None = None) -> tuple[BacklogWalk, Vendor]:
    vendor = Vendor(pages)
    result = BacklogWalk(windows, ListPages(vendor, page_limit), handled or set(), synced or SyncedIndex(), budget)
    return result.run(), vendor


def picked(w: BacklogWalk) -> list[int]:
    return [p.item["id"] for p in w.picks]


def test_coalesce_merges_overlaps_keeps_gaps_and_caps_the_count() -> None:
    assert coalesce([window(0, 5), window(10, 20), window(15, 30, page=4)]) == [window(10, 30), window(0, 5)]
    many = [window(10 * i, 10 * i + 5) for i in range(MAX_WINDOWS + 2)]
    merged = coalesce(many)
    assert len(merged) == MAX_WINDOWS and merged[-1] == window(0, 25)  # the three oldest, two at a time
    assert load_backlog(backlog_json(merged)) == merged and backlog_json([]) is None
    assert load_backlog({"windows": [{"floor": "x"}, {"floor": 5, "below": 1}, None]}) == []


def test_message_since_is_the_oldest_owed_since() -> None:
    assert message_since([window(50, 60, since=40), window(0, 10, since=30)], t(100)) == t(30)
    assert message_since([], t(100)) == t(100)


def test_synced_index_round_trip_and_pruning() -> None:
    index = SyncedIndex({1: t(10), 2: t(10), 3: t(20)})
    assert SyncedIndex.from_json(index.to_json()) == index and index.to_json()[t(10).isoformat()] == [1, 2]
    after = index.updated({4: t(30), 3: t(25)}, [2], keep=lambda a: a >= t(20))
    assert after.at == {3: t(25), 4: t(30)} and after.has(3, t(25)) and not after.has(3, t(20))


def test_the_walk_picks_what_is_owed_and_moves_the_window_down() -> None:
    pages = listing(100, 90, 80, 70, 60, 50, 40, 30, 20, 10)
    done, vendor = walk(pages, [window(15, 75)], budget=3, handled={1000 - 4})  # 60 selected in this run
    assert picked(done) == [1000 - 3, 1000 - 5, 1000 - 6] and done.stop == "limit"  # 70, 50, 40
    assert done.remaining() == [window(15, 40, page=2)] and vendor.requested == [1, 2]


def test_the_walk_pays_windows_back_at_their_floor_and_at_the_end_of_the_list() -> None:
    pages = listing(100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5)
    synced = SyncedIndex({1000 - 1: t(90)})
    done, _ = walk(pages, [window(85, 95), window(35, 55), window(0, 6)], synced=synced)
    assert picked(done) == [1000 - 5, 1000 - 6, 1000 - 10] and done.stop is None and done.remaining() == []


def test_ties_at_the_cut_stay_owed_until_settled() -> None:
    pages = listing(50, 50, 50, 50, 40)
    first, _ = walk(pages, [window(0, 50)], budget=2)
    assert picked(first) == [1000, 999] and first.remaining() == [window(0, 50)]
    synced = SyncedIndex({1000: t(50), 999: t(50)})
    second, _ = walk(pages, first.remaining(), budget=2, synced=synced)
    assert picked(second) == [998, 997]


def test_the_hint_is_checked_and_stepped_back_from_when_its_page_starts_owed() -> None:
    pages = listing(*range(200, 100, -5), size=5)  # 20 conversations, 4 pages: 200..180, 175..155, ...
    ok, vendor = walk(pages, [window(0, 148, page=3)], budget=1, page_limit=4)
    assert vendor.requested == [3] and picked(ok) == [1000 - 11]  # page 3 starts at 150: nothing owed before
    stale, vendor = walk(pages, [window(0, 157, page=3)], budget=1, page_limit=4)
    assert vendor.requested == [3, 2] and picked(stale) == [1000 - 9]  # 155 sits on page 2


def test_the_hint_is_trusted_when_the_step_back_is_not_affordable() -> None:
    pages = listing(*range(200, 100, -5), size=5)
    vendor = Vendor(pages)
    listing_pages = ListPages(vendor, 2)
    listing_pages.get(1)  # the normal selection's page
    done = BacklogWalk([window(0, 152, page=3)], listing_pages, set(), SyncedIndex(), 10).run()
    assert vendor.requested == [1, 3] and picked(done) == [990, 989, 988, 987, 986] and done.stop == "pages"
    assert done.remaining() == [window(0, 130, page=4)]


def test_an_idle_walk_keeps_every_window() -> None:
    pages = listing(10, 5)
    idle, vendor = walk(pages, [window(0, 8)], budget=0)
    assert idle.remaining() == [window(0, 8)] and vendor.requested == []


def test_a_capped_backlog_conversation_stays_owed() -> None:
    item = {"id": 7, "last_activity_at": 40}
    pick = BacklogPick(item, window(0, 50, since=3), 2)
    assert settle([], [pick], {7}, None) == [BacklogWindow(t(40), t(40), t(3), 2)]
    assert settle([window(0, 20)], [pick], set(), window(60, 70)) == [window(60, 70), window(0, 20)]


def test_selector_revisits_do_not_count_and_a_window_takes_over_the_scan() -> None:
    items = [{"id": i, "last_activity_at": a} for i, a in ((1, 100), (2, 95), (3, 90), (4, 60), (5, 55))]
    synced = SyncedIndex({2: t(95), 3: t(80)})  # 3 changed since
    sel = ConversationSelector(t(50), limit=3, synced=synced, windows=[window(40, 70)])
    assert sel.add_page(items) is False and sel.floor_reached and not sel.truncated
    assert [c["id"] for c in sel.selected] == [1, 3] and [c["id"] for c in sel.revisits] == [2]
    assert [c["id"] for c in sel.in_list_order(0)] == [1, 3] and [c["id"] for c in sel.in_list_order(5)] == [1, 2, 3]
