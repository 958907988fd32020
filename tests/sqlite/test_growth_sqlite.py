"""Part B on the embedded SQLite default: outbound compliance, evidence search, and a detector job."""

from __future__ import annotations

from tests.conftest import Api


def test_outbound_flow_and_evidence_search_on_sqlite(api: Api, runtime, run_jobs) -> None:
    assert runtime.settings.is_sqlite
    api.create_project("Embedded")
    api.post("/outbound/opt-out", {"contact_global_id": "cwc:1:1", "channel": "email", "frequency_cap": 1})
    ids = []
    for key in ("a", "b"):
        resp = api.post("/outbound/draft", {"channel": "email", "recipient_ref": "cwc:1:1", "idempotency_key": key,
                                            "payload": {"body_text": key},
                                            "evidence_refs": [{"ref": "cwmsg:1:5", "snippet": "Budget 50% agreed"}]})
        assert resp.status_code == 201
        ids.append(resp.get_json()["outbound"]["id"])
        assert api.post(f"/outbound/{ids[-1]}/approve").status_code == 200
    assert api.post(f"/outbound/{ids[0]}/send").status_code == 200
    resp = api.post(f"/outbound/{ids[1]}/send")
    assert (resp.status_code, resp.get_json()["error"]) == (429, "frequency_cap_reached")
    statuses = {m["id"]: m["status"] for m in api.get("/outbound").get_json()["outbound"]}
    assert statuses == {ids[0]: "sent", ids[1]: "failed"}
    hits = api.get("/evidence/search?q=budget 50%").get_json()["evidence"]
    assert [h["source_pk"] for h in hits] == ["cwmsg:1:5"]
    assert api.get("/evidence/search?q=_").get_json()["evidence"] == []
    job = api.post("/upsell/radar/refresh").get_json()["job"]
    run_jobs("intelligence")
    run = api.get(f"/jobs/runs/{job['id']}").get_json()["job"]
    assert run["status"] == "ok" and run["meta"]["result"] == {"generated_candidates": 0, "touched": 0}
