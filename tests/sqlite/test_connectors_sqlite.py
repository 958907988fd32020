"""The three connectors on the embedded SQLite default: upserts, RETURNING, JSON reads, re-sync touches nothing."""
# ruff: noqa: F811 - pytest fixtures imported from tests.jobs.connector_support

from __future__ import annotations

import time
from datetime import UTC, datetime

from shared.db.models.attio import AttioAccountRaw, AttioActivityRaw
from shared.db.models.chatwoot import CwMessage
from shared.db.models.linear import LinearIssueRaw
from shared.db.models.rag import RagChunk
from tests.emulators import EmulatorServer
from tests.jobs.connector_support import bind, count, emu, fresh, make_project, set_env, sleeps, sync  # noqa: F401
from tests.jobs.test_attio import marks, workspace
from tests.jobs.test_chatwoot import TOKEN, account
from tests.jobs.test_linear import organization_data


def test_all_connectors_sync_and_resync_on_sqlite(emu: EmulatorServer, fresh, monkeypatch, sleeps) -> None:
    rt = fresh
    assert rt.settings.is_sqlite
    emu.reset()
    now = datetime.now(UTC).replace(microsecond=0)
    emu.load({"chatwoot": {"token": TOKEN, "accounts": {"1": account(int(time.time()))}},
              "attio": workspace(now), "linear": organization_data(now)})
    set_env(monkeypatch, rt, emu.env())
    scope = make_project(rt, "Embedded")
    for connector, external_id in (("chatwoot", "1"), ("attio", "ws-sqlite"), ("linear", "org-sqlite")):
        bind(rt, scope, connector, external_id)
    first = {c: sync(c, scope) for c in ("chatwoot", "attio", "linear")}
    assert first["chatwoot"]["processed_messages"] == 20 and first["chatwoot"]["added_messages"] == 20
    assert first["attio"]["touched_opportunities"] == 4 and first["linear"]["touched_issues"] == 7
    assert count(rt, CwMessage, scope) == 20 and count(rt, RagChunk, scope) == 20 + 5 + 6
    with rt.session() as s:
        blocked = s.query(LinearIssueRaw).filter_by(external_id="iss-4", **scope.as_filter()).one()
    assert blocked.blocked is True and blocked.blocked_by_count == 1
    again = {c: sync(c, scope) for c in ("chatwoot", "attio", "linear")}
    touched = {f"{c}.{k}": v for c, r in again.items() for k, v in r.items()
               if k.startswith(("touched_", "added_", "updated_", "processed_messages", "inserted_chunks"))}
    assert set(touched.values()) == {0}, touched


def test_attio_deletions_are_marked_and_unmarked_on_sqlite(emu: EmulatorServer, fresh, monkeypatch, sleeps) -> None:
    rt = fresh
    emu.reset()
    data = workspace(datetime.now(UTC).replace(microsecond=0))
    emu.load({"attio": data})
    set_env(monkeypatch, rt, emu.env())
    scope = make_project(rt, "Embedded deletions")
    bind(rt, scope, "attio", "ws-sqlite-deletions")
    sync("attio", scope)
    emu.mutate_many([{"vendor": "attio", "op": "delete_record", "object": "companies", "record_id": "comp-2"},
                     {"vendor": "attio", "op": "delete_note", "note_id": "note-0"}])
    gone = sync("attio", scope)  # everything fits one run: every run completes a cycle
    assert (gone["deleted_companies"], gone["deleted_notes"], gone["deleted"], gone["deleted_chunks"]) == (1, 1, 2, 1)
    assert {k for k, v in marks(rt, AttioAccountRaw, scope).items() if v} == {"comp-2"}
    assert {k for k, v in marks(rt, AttioActivityRaw, scope).items() if v} == {"note-0"}
    assert sync("attio", scope)["deleted"] == 0
    emu.mutate("attio", "add_record", object="companies", record=data["objects"]["companies"][2])
    back = sync("attio", scope)
    assert back["restored_companies"] == 1 and not any(marks(rt, AttioAccountRaw, scope).values())
