"""Chatwoot mapping and selection rules (connectors-rag §3.3–§3.6), without HTTP or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.connectors.chatwoot import (
    ConversationSelector,
    chunk_text,
    message_type_name,
    next_cursor,
    order_messages,
    to_conversation_row,
    to_inbox_row,
    to_message_rows,
)
from jobs.connectors.common import dedupe_latest
from tests.emulators import chatwoot as cw

PID = "5f0e7c1a-1111-2222-3333-444444444444"
T0 = 1_750_000_000
PERSON = cw.contact(77, "Emily Carter", email="emily@client.example", phone_number="+1555")
AGENT = cw.agent(3, "Anna")


def conv(cid: int = 12, **kw: object) -> dict:
    return cw.conversation(cid, inbox_id=2, status="resolved", sender=PERSON, last_activity_at=T0, created_at=T0 - 60,
                           account_id=1, assignee=AGENT, **kw)


def mapped_conversation() -> dict:
    row, _ = to_conversation_row(conv(), pid=PID, acc=1)
    return row


def test_conversation_row_ids_and_contact() -> None:
    row, contact = to_conversation_row(conv(), pid=PID, acc=1)
    assert row["id"] == f"cw:{PID}:1:12" and row["conversation_id"] == 12 and row["status"] == "resolved"
    assert row["assignee_id"] == 3 and row["inbox_id"] == 2
    assert row["updated_at"] == datetime.fromtimestamp(T0, UTC)
    assert contact["id"] == f"cwc:{PID}:1:77" == row["contact_global_id"]
    assert contact["email"] == "emily@client.example" and contact["updated_at"] == row["updated_at"]


def test_conversation_with_an_agent_sender_has_no_contact_and_bad_ids_are_skipped() -> None:
    item = conv()
    item["meta"]["sender"] = {"id": 3, "type": "user", "name": "Agent"}
    row, contact = to_conversation_row(item, pid=PID, acc=1)
    assert contact is None and row["contact_global_id"] is None
    assert to_conversation_row({**conv(), "id": "abc"}, pid=PID, acc=1) == (None, None)
    assert to_conversation_row({**conv(), "id": "12.0"}, pid=PID, acc=1)[0]["conversation_id"] == 12


def test_message_row_fields() -> None:
    msg = cw.message(998877, 12, content="  hello\x00 world ", message_type=0, created_at=T0, sender=PERSON,
                     account_id=1)
    m = to_message_rows(msg, pid=PID, acc=1, conversation=mapped_conversation(), max_chars=1000)
    row = m.row
    assert row["id"] == f"cwmsg:{PID}:1:998877" and row["message_type"] == "incoming"
    assert row["content"] == "  hello world " and row["sender_type"] == "Contact" and row["sender_id"] == 77
    assert row["contact_global_id"] == f"cwc:{PID}:1:77" and m.contact["contact_id"] == 77
    assert row["private"] is False and row["deleted"] is False and row["created_at"].timestamp() == T0
    assert "\x00" not in str(row["data"])


def test_agent_message_takes_the_conversation_contact_and_yields_no_contact_row() -> None:
    msg = cw.message(5, 12, content="hi", message_type=1, created_at=T0, sender=AGENT, account_id=1)
    m = to_message_rows(msg, pid=PID, acc=1, conversation=mapped_conversation(), max_chars=1000)
    assert m.contact is None and m.row["contact_global_id"] == f"cwc:{PID}:1:77" and m.row["sender_type"] == "User"


def test_long_empty_and_attachment_only_messages() -> None:
    convo = mapped_conversation()
    long = to_message_rows(cw.message(1, 12, content="я" * 20_000, message_type=0, created_at=T0), pid=PID, acc=1,
                           conversation=convo, max_chars=1000)
    assert long.row["content"] == "я" * 1000
    empty = to_message_rows(cw.message(2, 12, content=None, message_type=1, created_at=T0,
                                       attachments=[cw.attachment(9, 2, 1)]), pid=PID, acc=1, conversation=convo,
                            max_chars=1000)
    assert empty.row["content"] == "" and chunk_text(empty.row) is None
    (att,) = empty.attachments
    assert att["id"] == f"cwa:{PID}:1:9" and att["content_type"] == "image" and att["file_size"] == 48_213
    assert att["message_global_id"] == empty.row["id"] and att["file_url"].startswith("https://")
    keyless = to_message_rows({**cw.message(3, 12, content="x", message_type=0, created_at=T0),
                               "attachments": [{"file_type": "file"}]}, pid=PID, acc=1, conversation=convo,
                              max_chars=1000)
    assert keyless.attachments[0]["id"] == f"cwa:{PID}:1:3:0"


def test_chunk_eligibility() -> None:
    convo = mapped_conversation()

    def row(**kw: object) -> dict:
        base = cw.message(1, 12, content="a long enough message to be chunked", message_type=0, created_at=T0)
        return to_message_rows({**base, **kw}, pid=PID, acc=1, conversation=convo, max_chars=1000).row

    assert chunk_text(row()) == "a long enough message to be chunked"
    assert chunk_text(row(private=True)) is None
    assert chunk_text(row(message_type=2)) is None and chunk_text(row(message_type="template")) is None
    assert chunk_text(row(content_attributes={"deleted": True})) is None
    assert chunk_text(row(message_type=9)) is not None  # unknown types qualify


def test_message_type_names() -> None:
    assert [message_type_name(v) for v in (0, 1, "2", 3, "Outgoing", None, 7)] == [
        "incoming", "outgoing", "activity", "template", "outgoing", None, "7"]


def test_messages_are_deduplicated_and_ordered() -> None:
    a = cw.message(5, 1, content="a", message_type=0, created_at=T0 + 5)
    b = cw.message(4, 1, content="b", message_type=0, created_at=T0 + 5)
    c = cw.message(9, 1, content="c", message_type=0, created_at=T0 + 1)
    a2 = {**a, "content": "a edited"}
    out = order_messages([a, b, c, a2, {"id": None}])
    assert [m["id"] for m in out] == [9, 4, 5] and out[2]["content"] == "a edited"


def test_same_contact_keeps_the_most_recent_occurrence() -> None:
    t = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [{"id": "c", "updated_at": t, "name": "old"}, {"id": "c", "updated_at": t + timedelta(1), "name": "new"},
            {"id": "c", "updated_at": t, "name": "older"}, {"id": "d", "updated_at": None, "name": "x"},
            {"id": "d", "updated_at": None, "name": "later"}]
    assert {r["id"]: r["name"] for r in dedupe_latest(rows)} == {"c": "new", "d": "later"}


def test_inbox_rows() -> None:
    row = to_inbox_row({"id": "4", "name": "Web", "channel": "Channel::Api"}, pid=PID, acc=1)
    assert row["id"] == f"cwinbox:{PID}:1:4" and row["channel_type"] == "Channel::Api"
    assert to_inbox_row({"id": None}, pid=PID, acc=1) is None


def page(*activities: int | None, start: int = 1) -> list[dict]:
    return [{"id": start + i, "last_activity_at": a} for i, a in enumerate(activities)]


def test_selector_stops_at_the_floor() -> None:
    sel = ConversationSelector(datetime.fromtimestamp(100, UTC), limit=10)
    assert sel.add_page(page(300, 200, start=1)) is True
    assert sel.add_page(page(150, 50, 40, start=3)) is False
    assert [c["id"] for c in sel.selected] == [1, 2, 3] and sel.floor_reached and not sel.truncated


def test_selector_limit_truncates_and_short_page_ends() -> None:
    sel = ConversationSelector(datetime.fromtimestamp(0, UTC), limit=3)
    assert sel.add_page(page(5, 4, 3, 2)) is False and sel.truncated and len(sel.selected) == 3
    sel = ConversationSelector(datetime.fromtimestamp(0, UTC), limit=50)
    assert sel.add_page(page(9, 8, 7)) is True
    assert sel.add_page(page(6, None, start=4)) is False  # shorter than the largest page
    assert [c["id"] for c in sel.selected] == [1, 2, 3, 4, 5] and not sel.truncated


def test_selector_duplicates_and_garbage() -> None:
    sel = ConversationSelector(datetime.fromtimestamp(0, UTC), limit=50)
    assert sel.add_page(page(9, 8)) is True
    assert sel.add_page(page(9, 8)) is False  # nothing new: stop
    assert sel.add_page([{"id": "x"}, {"id": 7, "last_activity_at": 3}]) is True  # full page, one new id
    assert sel.skipped_items == 1 and [c["id"] for c in sel.selected] == [1, 2, 7]


def test_next_cursor_rules() -> None:
    t = [datetime.fromtimestamp(x, UTC) for x in (100, 200, 300, 400)]
    since = t[0]
    assert next_cursor(previous=None, since=since, processed=[t[1], t[3]], capped=[], truncated=False) == t[3]
    assert next_cursor(previous=None, since=since, processed=[t[1], t[3]], capped=[], truncated=True) == t[1]
    assert next_cursor(previous=None, since=since, processed=[t[2], t[3]], capped=[t[2]], truncated=False) == t[2]
    assert next_cursor(previous=t[3], since=since, processed=[t[1]], capped=[], truncated=False) == t[3]
    assert next_cursor(previous=None, since=since, processed=[], capped=[], truncated=False) == since
    assert next_cursor(previous=t[2], since=since, processed=[None], capped=[], truncated=False) == t[2]
