"""Seed and show the demo through the public API, as a newcomer would use it.

Logs in, creates (or reuses) the project "Demo — sample data (emulated vendors)" in its own account
scope ``demo``, binds it to the emulated Chatwoot/Attio/Linear tenants, syncs through the real
connector code, waits for the pipeline, then prints what search and recommendations return.
The demo project is the only project bound to the emulators: demo data never mixes with real data.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import httpx

DEMO_PROJECT = "Demo — sample data (emulated vendors)"
DEMO_SCOPE = "demo"


class Client:
    def __init__(self, base: str, username: str, password: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        resp = self.http.post("/auth/login", json={"username": username, "password": password})
        resp.raise_for_status()
        self.csrf = self.http.cookies.get("csrf_token") or ""

    def get(self, path: str, **kw: Any) -> dict[str, Any]:
        return self.http.get(path, **kw).json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        resp = self.http.post(path, json=body or {}, headers={"x-csrf-token": self.csrf})
        return resp.status_code, resp.json()


def bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / max(1, total))
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def wait_idle(api: Client, deadline_s: float) -> dict[str, Any]:
    """Poll /jobs/status (as the UI does) until no job is in flight, printing a progress bar."""
    start = time.monotonic()
    seen: set[int] = set()
    status: dict[str, Any] = {}
    while time.monotonic() - start < deadline_s:
        status = api.get("/jobs/status")
        active = status.get("active_jobs", [])
        seen |= {j["id"] for j in active} | {j["id"] for j in status.get("jobs", [])}
        finished = len(seen) - len(active)
        sys.stdout.write("\r  pipeline " + bar(finished, len(seen)) + " " +
                         ", ".join(sorted({j["job_type"] for j in active}))[:60].ljust(60))
        sys.stdout.flush()
        if not active:
            break
        time.sleep(1.0)
    sys.stdout.write("\n")
    return status


def main(argv: list[str] | None = None) -> int:
    from tests.emulators import demo_data as demo

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    api = Client(args.api, args.username, args.password)

    project = next((p for p in api.get("/projects")["projects"] if p["name"] == DEMO_PROJECT), None)
    if project is None:
        code, body = api.post("/projects", {"name": DEMO_PROJECT, "account_scope_key": DEMO_SCOPE,
                                            "account_scope_name": "Demo (sample data)"})
        assert code == 201, body
        project = body["project"]
    api.post(f"/projects/{project['id']}/select")
    for connector, external_id in (("chatwoot", str(demo.DEMO_CHATWOOT_ACCOUNT_ID)),
                                   ("attio", demo.DEMO_ATTIO_WORKSPACE_ID), ("linear", demo.DEMO_LINEAR_ORG_ID)):
        code, body = api.post("/connectors/bindings", {"connector": connector, "external_id": external_id})
        if code not in (200, 201):
            print(f"  binding {connector}: {code} {body.get('error')}")
    code, body = api.post("/connectors/sync")
    print(f"  sync requested: {code} {[j['job_type'] for j in body.get('jobs', [])]}")
    status = wait_idle(api, args.timeout)
    print(f"  synced: {status.get('entities')}  chunks: {status.get('rag_counts')}")
    for job in status.get("jobs", []):
        print(f"    {job['job_type']:<32} {job['status']:<8} processed={job['processed_count']}")
    for query in ("invoice payment is late", "приложение падает на телефоне"):
        code, body = api.post("/search", {"query": query, "topK": 3})
        hits = body.get("results", []) if code == 200 else []
        print(f"  search {query!r}: {code} {len(hits)} hits")
        for hit in hits[:3]:
            print(f"    {hit.get('score', 0):.3f} {str(hit.get('snippet', ''))[:90]!r}")
    code, body = api.post("/kag/refresh")
    if code == 202:
        wait_idle(api, args.timeout)
        recs = api.get("/kag/recommendations").get("recommendations", [])
        print(f"  recommendations: {len(recs)}")
        for rec in recs[:5]:
            print(f"    - {rec.get('title') or rec.get('template_key')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
