"""No double send: concurrent senders of one approved message make exactly one provider attempt."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import text

from shared.business.outbound import DeliveryResult, DraftIn, OutboundInvalidState
from shared.db.service import outbound as svc
from shared.errors import Conflict
from shared.runtime import Runtime
from shared.scope import Scope
from tests.conftest import Api
from tests.growth.conftest import attempts, audits, message_row, policy_row, scope_of
from tests.support import wait_for

SENDERS = 8


def _approved(rt: Runtime, scope: Scope, recipient: str, key: str) -> uuid.UUID:
    with rt.transaction() as s:
        draft = DraftIn(channel="email", recipient_ref=recipient, idempotency_key=key, payload={"body_text": key},
                        dedupe_key=key, max_retries=5)
        message = svc.save_draft(session=s, scope=scope, draft=draft, actor="alice", request_id=None).message
    with rt.transaction() as s:
        svc.approve_outbound(session=s, scope=scope, outbound_id=message.id, actor="alice", request_id=None)
    return message.id


def _logged_in_clients(app: Any, source: Api, n: int) -> list[Api]:
    """``n`` test clients sharing ``source``'s server-side session (same user, same active project)."""
    clients = []
    for _ in range(n):
        api = Api(app.test_client())
        for name in ("sid", "csrf_token"):
            api.client.set_cookie(name, source.client.get_cookie(name).value)
        api.csrf = source.csrf
        clients.append(api)
    return clients


def test_concurrent_sends_through_the_route_make_one_attempt(app, api: Api, runtime) -> None:
    project = api.create_project("Project P")
    mid = _approved(runtime, scope_of(project), "cwc:P:1:42", "k")
    clients = _logged_in_clients(app, api, SENDERS)
    barrier = threading.Barrier(SENDERS)
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def sender(client: Api) -> None:
        barrier.wait()
        resp = client.post(f"/outbound/{mid}/send")
        with lock:
            answers.append((resp.status_code, resp.get_json().get("error")))

    threads = [threading.Thread(target=sender, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    codes = Counter(answers)
    assert codes[(200, None)] == 1, answers
    assert sum(codes.values()) == SENDERS
    assert set(codes) - {(200, None)} <= {(409, "outbound_busy"), (409, "outbound_invalid_state")}
    assert len(attempts(runtime, mid)) == 1 and message_row(runtime, mid).status == "sent"
    assert policy_row(runtime, "cwc:P:1:42").sent_in_window == 1
    assert len(audits(runtime, "outbound.send", entity_id=str(mid))) == 1


def test_a_locked_message_answers_busy_then_invalid_state(api: Api, runtime) -> None:
    scope = scope_of(api.create_project("Project P"))
    mid = _approved(runtime, scope, "cwc:P:1:42", "k")
    entered, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def slow_provider(payload: Any) -> DeliveryResult:
        entered.set()
        assert release.wait(10)
        return DeliveryResult(ok=True, provider_message_id="sim:slow")

    def first() -> None:
        with runtime.transaction() as s:
            outcome["first"] = svc.send_outbound(session=s, scope=scope, outbound_id=mid, actor="a", request_id=None,
                                                 deliver=slow_provider).sent

    thread = threading.Thread(target=first)
    thread.start()
    assert entered.wait(10)
    try:
        with runtime.transaction() as s:
            svc.send_outbound(session=s, scope=scope, outbound_id=mid, actor="b", request_id=None)
        raise AssertionError("the second sender must not get the lock")
    except Conflict as exc:
        assert exc.code == "outbound_busy"
    finally:
        release.set()
        thread.join(10)
    assert outcome["first"] is True
    try:
        with runtime.transaction() as s:
            svc.send_outbound(session=s, scope=scope, outbound_id=mid, actor="c", request_id=None)
        raise AssertionError("a sent message cannot be sent again")
    except OutboundInvalidState:
        pass
    assert [a.provider_message_id for a in attempts(runtime, mid)] == ["sim:slow"]


def test_two_messages_to_one_recipient_serialize_on_the_cap(api: Api, runtime) -> None:
    scope = scope_of(api.create_project("Project P"))
    with runtime.transaction() as s:
        from shared.business.outbound import OptOutIn

        svc.set_policy(session=s, scope=scope, actor="a", request_id=None, change=OptOutIn(
            contact_global_id="cwc:P:1:42", channel="email", opted_out=None, stop_on_reply=None,
            frequency_window_hours=None, frequency_cap=1, mark_replied=False))
    first_id = _approved(runtime, scope, "cwc:P:1:42", "one")
    second_id = _approved(runtime, scope, "cwc:P:1:42", "two")
    entered, release = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def slow_provider(payload: Any) -> DeliveryResult:
        entered.set()
        assert release.wait(10)
        return DeliveryResult(ok=True, provider_message_id="sim:first")

    def run(name: str, outbound_id: uuid.UUID, deliver: Any = None) -> None:
        with runtime.transaction() as s:
            results[name] = svc.send_outbound(session=s, scope=scope, outbound_id=outbound_id, actor=name,
                                              request_id=None, deliver=deliver)

    a = threading.Thread(target=run, args=("a", first_id, slow_provider))
    a.start()
    assert entered.wait(10)
    b = threading.Thread(target=run, args=("b", second_id))
    b.start()

    def b_waits_on_the_policy_lock() -> bool:
        with runtime.engine.connect() as conn:
            return bool(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )).scalar())

    wait_for(b_waits_on_the_policy_lock, message="the second sender to wait for the policy row")
    release.set()
    a.join(10)
    b.join(10)
    assert results["a"].sent is True
    assert results["b"].error is not None and results["b"].error.code == "frequency_cap_reached"
    assert message_row(runtime, second_id).status == "failed"
    assert policy_row(runtime, "cwc:P:1:42").sent_in_window == 1


def test_concurrent_drafts_with_one_key_make_one_row(app, api: Api, runtime) -> None:
    api.create_project("Project P")
    clients = _logged_in_clients(app, api, 6)
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def drafter(client: Api, n: int) -> None:
        barrier.wait()
        resp = client.post("/outbound/draft", {"channel": "email", "recipient_ref": "cwc:P:1:42",
                                               "idempotency_key": "same", "payload": {"n": n}})
        with lock:
            answers.append((resp.status_code, resp.get_json()["outbound"]["id"] if resp.status_code < 300 else
                            resp.get_json()["error"]))

    threads = [threading.Thread(target=drafter, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    codes = Counter(code for code, _ in answers)
    assert codes[201] == 1 and codes[200] == len(clients) - 1, answers
    assert len({ref for _, ref in answers}) == 1
    assert len(api.get("/outbound").get_json()["outbound"]) == 1
