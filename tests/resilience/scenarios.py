"""Fault scenarios against the whole stack (``tests/resilience/stack.py``); each returns a ``ScenarioResult``.

The data: the Chatwoot emulator serves identical generated accounts (same conversations, messages and
contacts under different account ids). One **control** project syncs one account without faults; its
records are the answer key. Every scenario project syncs its own account through the real connector while
a fault is injected, and afterwards must hold exactly the control's records:

* ``records_lost`` — natural keys of the control missing from the project (conversations, messages,
  contacts, inboxes, RAG chunks);
* ``records_duplicated`` — rows beyond one per natural key;
* ``runs_left_running`` — ``job_runs`` rows in flight after recovery, among the runs that were in flight
  when the fault hit (nothing may stay stuck);
* ``api_5xx`` — 5xx answers to the UI-like readers polling the API during the scenario, except the codes
  the spec allows for the outage (``queue_unavailable`` while Redis is down, ``database_unavailable`` /
  ``unhealthy`` while PostgreSQL is down); those are counted apart;
* ``recover_s`` — from the fault to the sync being complete again.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from tests.emulators import EmulatorServer
from tests.resilience.stack import ApiCall, HttpApi, Prober, Stack, StackConfig, classify_calls

CW_TOKEN = "resilience-chatwoot-token"
CONTROL_ACCOUNT = 500
FIRST_ACCOUNT = 501
ACCOUNT_SPEC = {"conversations": 30, "messages_per_conversation": 8, "span_days": 2, "inboxes": 2, "seed": 11,
                "gap_seconds": 60}
FINAL = ("ok", "failed", "skipped")
IN_FLIGHT = ("queued", "running", "retry_scheduled")
# The job types a sync scenario sets in motion (the sync and its embeddings follow-up): runs of these types in
# flight when a fault hits must all end. Other job types (scheduled intelligence jobs) are not the scenario's.
JOB_TYPES = ("chatwoot_sync", "embeddings_run")
MESSAGES_PATH = r"/chatwoot/api/v1/accounts/{acc}/conversations/\d+/messages"
ACCOUNT_PATH = r"/chatwoot/api/v1/accounts/{acc}/"
REDIS_DOWN_CODES = frozenset({"queue_unavailable", "unhealthy"})
PG_DOWN_CODES = frozenset({"database_unavailable", "unhealthy"})
# Natural keys per table (compared between the control project and a scenario project).
NATURAL_KEYS = {
    "cw_conversations": "conversation_id", "cw_messages": "message_id", "cw_contacts": "contact_id",
    "cw_inboxes_raw": "inbox_id",
}


@dataclass
class ScenarioResult:
    name: str
    records_lost: int = 0
    records_duplicated: int = 0
    runs_left_running: int = 0
    api_5xx: int = 0
    api_503_allowed: int = 0
    api_requests: int = 0
    api_no_answer: int = 0
    processes_lost: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    recover_s: list[float] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (self.records_lost == 0 and self.records_duplicated == 0 and self.runs_left_running == 0
                and self.api_5xx == 0 and self.api_no_answer == 0 and not self.processes_lost and not self.problems)

    def add_calls(self, counts: dict[str, int]) -> None:
        self.api_requests += counts["requests"]
        self.api_5xx += counts["api_5xx"]
        self.api_503_allowed += counts["api_503_allowed"]
        self.api_no_answer += counts["no_answer"]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        out["recover_s"] = [round(s, 2) for s in self.recover_s]
        if self.recover_s:
            out["recover_s_max"] = round(max(self.recover_s), 2)
            out["recover_s_mean"] = round(sum(self.recover_s) / len(self.recover_s), 2)
        return out


@dataclass
class Project:
    id: str
    account_id: int
    api: HttpApi


class SyncLab:
    """A running stack with the Chatwoot emulator, a control project and one fresh account per project."""

    def __init__(self, stack: Stack, emulator: EmulatorServer) -> None:
        self.stack, self.emu = stack, emulator
        self.api = stack.api()
        self._next_account = FIRST_ACCOUNT
        self.control: Project | None = None
        self.expected: dict[str, set[Any]] = {}
        self.expected_chunks = 0
        self.no_answers: list[dict[str, Any]] = []

    # -- setup -------------------------------------------------------------------------------------------
    @staticmethod
    def fixtures(accounts: int) -> dict[str, Any]:
        specs = [{"account_id": CONTROL_ACCOUNT, **ACCOUNT_SPEC}]
        specs += [{"account_id": FIRST_ACCOUNT + i, **ACCOUNT_SPEC} for i in range(accounts)]
        return {"chatwoot": {"token": CW_TOKEN, "generate": specs}}

    def prepare(self) -> SyncLab:
        """Sync the control project once without faults: its records are the answer key."""
        self.control = self.new_project("control", account_id=CONTROL_ACCOUNT)
        run = self.trigger(self.control)
        status = self.wait_final(run, timeout=180)
        assert status == "ok", f"control sync ended {status}:\n{self.stack.logs()}"
        self.expected = self.records(self.control.id)
        self.expected_chunks = self.chunk_count(self.control.id)
        assert self.expected["cw_messages"], "the control sync stored no messages"
        return self

    def new_project(self, name: str, account_id: int | None = None) -> Project:
        if account_id is None:
            account_id = self._next_account
            self._next_account += 1
        api = self.stack.api()
        project_id = api.create_project(f"{name} {account_id}")
        api.bind("chatwoot", account_id)
        return Project(project_id, account_id, api)

    # -- emulator faults ---------------------------------------------------------------------------------
    def slow_messages(self, project: Project, delay_ms: int) -> None:
        self.emu.fault("chatwoot", path_regex=MESSAGES_PATH.format(acc=project.account_id), delay_ms=delay_ms,
                       times=-1)

    def clear_faults(self) -> None:
        httpx.delete(f"{self.emu.base_url}/__emu/faults", timeout=10).raise_for_status()

    # -- runs ------------------------------------------------------------------------------------------
    def trigger(self, project: Project) -> int:
        """``POST /connectors/chatwoot/sync``; a request left without an answer (client timeout) is counted in
        ``no_answers`` (a scenario failure) and retried, so one hang does not hide the other figures."""
        for _ in range(3):
            resp = project.api.post("/connectors/chatwoot/sync")
            if resp is None:
                self.no_answers.append({"at": time.time(), "path": "/connectors/chatwoot/sync"})
                continue
            assert resp.status_code == 202, f"sync trigger: {resp.status_code} {resp.text[:300]}"
            return int(resp.json()["job"]["id"])
        raise AssertionError("POST /connectors/chatwoot/sync never answered (3 tries)")

    def run_row(self, run_id: int) -> dict[str, Any]:
        rows = self.stack.rows("SELECT status, attempt, error, started_at FROM job_runs WHERE id = :id", id=run_id)
        return dict(rows[0]._mapping) if rows else {}

    def status(self, run_id: int) -> str | None:
        return self.stack.scalar("SELECT status FROM job_runs WHERE id = :id", id=run_id)

    def wait_final(self, run_id: int, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.status(run_id)
            if status in FINAL:
                return status
            time.sleep(0.25)
        return status

    def wait_complete(self, project: Project, run_id: int, timeout: float) -> tuple[str | None, float]:
        """Wait until the run has ended and, when it ended ``ok``, the project holds every record of the
        control. Returns (final status or the last one seen, seconds waited)."""
        started = time.monotonic()
        status = self.wait_final(run_id, timeout)
        while status == "ok" and not self.complete(project) and time.monotonic() - started < timeout:
            time.sleep(0.5)
        return status, time.monotonic() - started

    def message_count(self, project_id: str) -> int:
        return int(self.stack.scalar("SELECT count(*) FROM cw_messages WHERE project_id = :p",
                                     p=_uuid(project_id)) or 0)

    def chunk_count(self, project_id: str) -> int:
        return int(self.stack.scalar("SELECT count(*) FROM rag_chunks WHERE project_id = :p", p=_uuid(project_id))
                   or 0)

    def wait_mid_sync(self, run_id: int, project: Project, timeout: float = 90) -> bool:
        """Until the run is executing and has stored part of the messages (a kill then lands mid-sync)."""
        total = len(self.expected["cw_messages"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(run_id)
            if status in FINAL:
                return False
            if status == "running" and 0 < self.message_count(project.id) < total:
                return True
            time.sleep(0.1)
        return False

    # -- verification ------------------------------------------------------------------------------------
    def records(self, project_id: str) -> dict[str, set[Any]]:
        out = {}
        for table, key in NATURAL_KEYS.items():
            out[table] = {r[0] for r in self.stack.rows(f"SELECT {key} FROM {table} WHERE project_id = :p",
                                                         p=_uuid(project_id))}
        return out

    def complete(self, project: Project) -> bool:
        got = self.records(project.id)
        return all(self.expected[t] <= got[t] for t in NATURAL_KEYS)

    def verify(self, project: Project, result: ScenarioResult) -> None:
        got = self.records(project.id)
        pid = _uuid(project.id)
        lost = {t: len(self.expected[t] - got[t]) for t in NATURAL_KEYS}
        dup = {}
        for table, key in NATURAL_KEYS.items():
            dup[table] = int(self.stack.scalar(f"SELECT count(*) - count(DISTINCT {key}) FROM {table} "
                                               "WHERE project_id = :p", p=pid) or 0)
        dup["rag_chunks"] = int(self.stack.scalar(
            "SELECT count(*) - count(DISTINCT (source_table, source_pk, chunk_index)) FROM rag_chunks "
            "WHERE project_id = :p", p=pid) or 0)
        chunks = self.chunk_count(project.id)
        lost["rag_chunks"] = max(0, self.expected_chunks - chunks)
        result.records_lost += sum(lost.values())
        result.records_duplicated += sum(dup.values())
        result.details.setdefault("projects", []).append(
            {"project_id": project.id, "account_id": project.account_id, "lost": lost, "duplicated": dup,
             "messages": len(got["cw_messages"]), "chunks": chunks})

    def in_flight(self, run_ids: list[int]) -> int:
        if not run_ids:
            return 0
        return int(self.stack.scalar(
            "SELECT count(*) FROM job_runs WHERE id = ANY(:ids) AND status IN ('queued', 'running', 'retry_scheduled')",
            ids=run_ids) or 0)

    def in_flight_ids(self, job_types: tuple[str, ...]) -> list[int]:
        """Runs of these types in flight now (any project): none of them may stay stuck after a fault."""
        return [r[0] for r in self.stack.rows(
            "SELECT id FROM job_runs WHERE status IN ('queued', 'running', 'retry_scheduled') "
            "AND job_type = ANY(:types)", types=list(job_types))]

    def settle(self, run_ids: list[int], timeout: float) -> int:
        """Wait until none of ``run_ids`` is in flight any more; returns how many still are."""
        deadline = time.monotonic() + timeout
        left = self.in_flight(run_ids)
        while left and time.monotonic() < deadline:
            time.sleep(1)
            left = self.in_flight(run_ids)
        return left

    def close(self) -> None:
        self.api.close()


def _uuid(value: str) -> Any:
    import uuid

    return uuid.UUID(value)


@contextlib.contextmanager
def probing(lab: SyncLab, project: Project, result: ScenarioResult,
            allowed: Callable[[ApiCall], bool] | None = None) -> Iterator[Prober]:
    """UI-like readers on the project for the duration; their answers are classified into ``result``, with the
    scenario's own requests that got no answer."""
    hangs_before = len(lab.no_answers)
    with Prober(lab.stack.url, project.id) as prober:
        yield prober
    result.api_no_answer += len(lab.no_answers) - hangs_before
    result.details.setdefault("no_answer", []).extend(lab.no_answers[hangs_before:])
    calls = prober.calls
    if allowed is not None:
        allowed_calls = [c for c in calls if c.status >= 500 and allowed(c)]
        counts = classify_calls([c for c in calls if c not in allowed_calls])
        counts["api_503_allowed"] += len(allowed_calls)
    else:
        counts = classify_calls(calls)
    result.add_calls(counts)
    statuses: dict[str, int] = {}
    for c in calls:
        statuses[str(c.status)] = statuses.get(str(c.status), 0) + 1
    result.details.setdefault("api_statuses", {}).update(
        {k: result.details.get("api_statuses", {}).get(k, 0) + v for k, v in statuses.items()})


# --- scenarios ------------------------------------------------------------------------------------------------
def worker_kill(lab: SyncLab, kills: int = 2, wave: int = 2, delay_ms: int | None = None,
                recover_timeout: float = 300, while_recovering: Callable[[], None] | None = None) -> ScenarioResult:
    """``kill -9`` Chatwoot workers in the middle of syncs, start fresh ones (what a process manager does),
    and wait for the same runs to finish through RQ's abandoned-job recovery.

    Kills come in waves of ``wave`` workers, each mid-sync of its own project (recovery waits are paid once
    per wave instead of once per kill), with a random 0.2-1.5 s offset between the kills of a wave.
    ``while_recovering`` runs once, right after the first wave's replacement workers start (the CI suite runs
    its other non-disruptive scenarios there instead of waiting out RQ's retry interval idle).
    """
    result = ScenarioResult("worker_kill_mid_sync")
    rng = random.Random(kills)
    if delay_ms is None:  # syncs must outlast the staggered kills of a wave (up to 1.5 s each) twice over
        delay_ms = max(120, int(2 * 1500 * wave / int(ACCOUNT_SPEC["conversations"])))
    done = misses = 0
    while done < kills:
        size = min(wave, kills - done)
        while len(lab.stack.workers("chatwoot")) < size:
            lab.stack.start_worker("chatwoot")
        projects = [lab.new_project(f"kill-{done + i}") for i in range(size)]
        for project in projects:
            lab.slow_messages(project, delay_ms)
        with probing(lab, projects[0], result):
            runs = [lab.trigger(p) for p in projects]
            mid = [lab.wait_mid_sync(run, p) for run, p in zip(runs, projects, strict=True)]
            misses += mid.count(False)
            watched = lab.in_flight_ids(JOB_TYPES)
            killed_at = {}
            for proc in lab.stack.workers("chatwoot"):
                time.sleep(rng.uniform(0.2, 1.5))
                proc.kill(9)
                killed_at[proc.name] = time.monotonic()
            first_kill = min(killed_at.values())
            for _ in killed_at:
                lab.stack.start_worker("chatwoot")
            if while_recovering is not None:
                while_recovering()
                while_recovering = None
            for run, project in zip(runs, projects, strict=True):
                status, _ = lab.wait_complete(project, run, recover_timeout)
                recover = time.monotonic() - first_kill
                result.recover_s.append(recover)
                row = lab.run_row(run)
                result.details.setdefault("runs", []).append(
                    {"run_id": run, "status": status, "attempt": row.get("attempt"), "recover_s": round(recover, 2)})
        lab.clear_faults()
        for project in projects:
            lab.verify(project, result)
        result.runs_left_running += lab.settle(watched, timeout=150)
        done += size
    result.details["kills"] = kills
    result.details["kills_not_mid_sync"] = misses
    # A run that was really cut by its kill executes again: attempt >= 2.
    result.details["runs_interrupted"] = sum(1 for r in result.details.get("runs", []) if (r["attempt"] or 0) >= 2)
    result.details["wave"] = wave
    return result


def redis_restart(lab: SyncLab, down_s: float = 5.0, delay_ms: int = 120, recover_timeout: float = 300,
                  lost_queue: bool = False) -> ScenarioResult:
    """Restart the private redis-server (nothing persisted: every queue, registry and lock is lost) in the
    middle of a sync.

    While it is down the API keeps answering (reads 200, a new trigger 503 ``queue_unavailable`` with its
    ledger row ``failed``/``enqueue_failed``, never stuck ``queued``); once it is back, workers and the
    scheduler reconnect (the scheduler registers its tick again) and the interrupted sync completes.
    ``lost_queue`` also loses a job waiting in the queue (no worker was serving it): its ledger row is
    recovered by the stale reaper and a new trigger syncs the project (minutes: the reaper's grace period).
    """
    result = ScenarioResult("redis_restart")
    project = lab.new_project("redis")
    second = lab.new_project("redis-trigger-while-down")
    queued_project = lab.new_project("redis-lost-queue") if lost_queue else None
    lab.slow_messages(project, delay_ms)

    def allowed(call: ApiCall) -> bool:
        return call.error in REDIS_DOWN_CODES

    with probing(lab, project, result, allowed):
        run_id = lab.trigger(project)
        lab.wait_mid_sync(run_id, project)
        lost_run = None
        if queued_project is not None:  # a job waiting in Redis, unserved (its pool is down) when Redis goes
            for proc in [p for p in lab.stack.procs.values() if p.name.startswith("worker-rest") and p.alive()]:
                proc.stop()
            lost_run = _trigger_on(lab, queued_project, "/jobs/embeddings/run")
        in_flight_at_fault = lab.in_flight_ids(JOB_TYPES)
        lab.stack.redis.stop()
        fault_at = time.monotonic()
        lab.clear_faults()  # the interrupted sync now finishes while Redis is still down (its end needs Redis)
        down = second.api.post("/connectors/chatwoot/sync")
        down_row = lab.stack.rows("SELECT status, error FROM job_runs WHERE project_id = :p "
                                  "AND job_type = 'chatwoot_sync' ORDER BY id DESC LIMIT 1", p=_uuid(second.id))
        result.details["trigger_while_down"] = {
            "status": down.status_code if down is not None else None,
            "error": down.json().get("error") if down is not None and down.status_code >= 400 else None,
            "ledger": list(down_row[0]) if down_row else None}
        time.sleep(down_s)
        lab.stack.redis.start()
        if queued_project is not None:
            lab.stack.start_worker(",".join(q for q in lab.stack._all_queues() if q not in lab.stack.config.pools),
                                   name=f"rest-{int(time.time())}")
        first = lab.wait_final(run_id, recover_timeout)
        result.details["interrupted_run"] = {"run_id": run_id, "status": first, **_jsonable(lab.run_row(run_id))}
        rerun = None
        if not lab.complete(project):
            rerun = _retrigger_until_final(lab, project, recover_timeout)
        result.recover_s.append(time.monotonic() - fault_at)
        result.details["rerun"] = {"run_id": rerun, "status": lab.status(rerun) if rerun else None}
        after = second.api.post("/connectors/chatwoot/sync")
        result.details["trigger_after"] = after.status_code if after is not None else None
        if lost_run is not None and queued_project is not None:  # reaped, then a new trigger runs again
            status = lab.wait_final(lost_run, 1200)
            again = _trigger_on(lab, queued_project, "/jobs/embeddings/run")
            result.details["lost_queued_run"] = {"run_id": lost_run, "status": status, "new_run": again,
                                                 "new_run_status": lab.wait_final(again, 120),
                                                 "recover_s": round(time.monotonic() - fault_at, 1),
                                                 **_jsonable(lab.run_row(lost_run))}
            in_flight_at_fault.append(lost_run)
    lab.verify(project, result)
    result.runs_left_running += lab.settle(in_flight_at_fault, timeout=150)
    ledger = result.details["trigger_while_down"]["ledger"]
    if result.details["trigger_while_down"]["status"] != 503 or not ledger or ledger[0] != "failed":
        result.details["trigger_while_down_wrong"] = True
        result.runs_left_running += 1 if ledger and ledger[0] in IN_FLIGHT else 0
    result.details["tick_registered"] = _tick_registered(lab)
    if not result.details["tick_registered"]:
        result.problems.append("the scheduler's global tick is not registered again after the restart")
    if result.details.get("trigger_while_down_wrong"):
        result.problems.append(f"trigger while Redis is down: {result.details['trigger_while_down']}")
    result.processes_lost = lab.stack.unexpected_exits()
    return result


def _trigger_on(lab: SyncLab, project: Project, path: str) -> int:
    return int(project.api.ok("POST", path, expect=(202,))["job"]["id"])


def _tick_registered(lab: SyncLab, timeout: float = 60) -> bool:
    """The scheduler's global tick is in rq-scheduler's schedule again (a Redis restarted empty lost it)."""
    from redis import Redis

    client = Redis.from_url(lab.stack.redis.url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if client.zscore("rq:scheduler:scheduled_jobs", "platform-scheduler_tick_all") is not None:
                    return True
            time.sleep(0.5)
        return False
    finally:
        client.close()


def postgres_restart(lab: SyncLab, down_s: float = 3.0, delay_ms: int = 120,
                     recover_timeout: float = 300, mode: str = "fast") -> ScenarioResult:
    """Restart the private PostgreSQL (fast shutdown) in the middle of a sync; reads answer 503
    ``database_unavailable`` while it is down, and the run finishes (or is retried) once it is back."""
    result = ScenarioResult("postgres_restart" if mode == "fast" else f"postgres_restart_{mode}")
    project = lab.new_project("postgres")
    lab.slow_messages(project, delay_ms)

    def allowed(call: ApiCall) -> bool:
        return call.error in PG_DOWN_CODES

    with probing(lab, project, result, allowed):
        run_id = lab.trigger(project)
        lab.wait_mid_sync(run_id, project)
        in_flight_at_fault = lab.in_flight_ids(JOB_TYPES)
        fault_at = time.monotonic()
        lab.stack.pg.restart(mode=mode, down_s=down_s)
        lab.clear_faults()
        status = lab.wait_final(run_id, recover_timeout)
        result.details["interrupted_run"] = {"run_id": run_id, "status": status, **_jsonable(lab.run_row(run_id))}
        rerun = None
        if not lab.complete(project):
            rerun = _retrigger_until_final(lab, project, recover_timeout)
        result.recover_s.append(time.monotonic() - fault_at)
        result.details["rerun"] = {"run_id": rerun, "status": lab.status(rerun) if rerun else None}
    lab.verify(project, result)
    result.runs_left_running += lab.settle(in_flight_at_fault, timeout=150)
    result.processes_lost = lab.stack.unexpected_exits()
    return result


VENDOR_FAULTS: dict[str, dict[str, Any]] = {
    "rate_limit_429": {"kind": "rate_limit", "retry_after": 1},
    "server_error_5xx": {"status": 503},
    "timeout": {"delay_ms": 4500},  # above CONNECTOR_HTTP_TIMEOUT_SECONDS=3 of the stack
    "malformed_body": {"status": 200, "body": b"<html><body>Bad gateway</body></html>"},
    "truncated_json": {"status": 200, "body": b'{"payload": [{"id": 1, "messages": ['},
}


def vendor_faults(lab: SyncLab, burst: int = 2, kinds: tuple[str, ...] = tuple(VENDOR_FAULTS),
                  recover_timeout: float = 300) -> ScenarioResult:
    """Bursts of 429 / 5xx / timeouts / malformed bodies on every Chatwoot call of a project's account;
    the sync retries (in-job with tenacity, then RQ) and ends with every record."""
    result = ScenarioResult("vendor_faults")
    per_kind = {}
    for kind in kinds:
        project = lab.new_project(f"vendor-{kind}")
        spec = dict(VENDOR_FAULTS[kind])
        lab.emu.fault("chatwoot", path_regex=ACCOUNT_PATH.format(acc=project.account_id), times=burst, **spec)
        with probing(lab, project, result):
            started = time.monotonic()
            run_id = lab.trigger(project)
            status = lab.wait_final(run_id, recover_timeout)
            if status == "ok" and not lab.complete(project):
                status = "ok_incomplete"
            rerun = None
            if status != "ok":
                rerun = _retrigger_until_final(lab, project, recover_timeout)
            took = time.monotonic() - started
        result.recover_s.append(took)
        requests = [r for r in lab.emu.requests("chatwoot")
                    if r.get("fault") and f"/{project.account_id}/" in r["path"]]
        per_kind[kind] = {"run_id": run_id, "status": status, "rerun": rerun, "faults_served": len(requests),
                          "seconds": round(took, 2), **{k: v for k, v in _jsonable(lab.run_row(run_id)).items()
                                                         if k in ("attempt", "error")}}
        lab.clear_faults()
        lab.verify(project, result)
        result.runs_left_running += lab.in_flight([run_id] + ([rerun] if rerun else []))
    result.details["kinds"] = per_kind
    result.details["burst"] = burst
    return result


def load_during_sync(lab: SyncLab, clients: int = 50, duration_s: float = 60.0) -> dict[str, Any]:
    """``clients`` concurrent UI sessions polling ``/jobs/status`` and reading lists while a sync of their
    project runs (slowed down to outlast the load); then the sync must still complete its data."""
    from tests.resilience.load import run_load, unloaded_baseline

    project = lab.new_project("load")
    baseline = unloaded_baseline(lab.stack.url, project.id)
    conversations = int(ACCOUNT_SPEC["conversations"])
    lab.slow_messages(project, int(1.5 * duration_s * 1000 / conversations))  # the sync outlasts the load
    run_id = lab.trigger(project)
    report = run_load(lab.stack.url, project.id, clients=clients, duration_s=duration_s)
    running_during_load = lab.status(run_id) in IN_FLIGHT
    lab.clear_faults()
    status = lab.wait_final(run_id, 300)
    summary = report.summary()
    check = ScenarioResult("load_during_sync")
    lab.verify(project, check)
    summary.update({"baseline_unloaded": baseline, "sync": {"run_id": run_id, "status": status,
                                                             "running_during_load": running_during_load,
                                                             "records_lost": check.records_lost,
                                                             "records_duplicated": check.records_duplicated}})
    if baseline["p50_ms"]:
        summary["p50_ratio_to_unloaded"] = round(summary["p50_ms"] / baseline["p50_ms"], 2)
    return summary


def _retrigger_until_final(lab: SyncLab, project: Project, timeout: float) -> int | None:
    """The operator (or the scheduler) asks again until a sync completes the data; the in-flight dedupe may
    hand back a run still in flight, which is then awaited."""
    deadline = time.monotonic() + timeout
    run_id = None
    while time.monotonic() < deadline:
        resp = project.api.post("/connectors/chatwoot/sync")
        if resp is not None and resp.status_code == 202:
            run_id = int(resp.json()["job"]["id"])
            lab.wait_final(run_id, max(1.0, deadline - time.monotonic()))
            if lab.complete(project):
                return run_id
        time.sleep(1)
    return run_id


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


@contextlib.contextmanager
def sync_lab(accounts: int = 12, config: StackConfig | None = None) -> Iterator[SyncLab]:
    """Emulator + whole stack + control project, torn down afterwards (logs kept on failure)."""
    with EmulatorServer(SyncLab.fixtures(accounts)) as emu:
        stack = Stack(config or StackConfig(), emulator_env=emu.env())
        ok = False
        try:
            stack.start()
            lab = SyncLab(stack, emu).prepare()
            try:
                yield lab
                ok = True
            finally:
                lab.close()
        finally:
            stack.stop()
            if ok and not os.environ.get("KEEL_KEEP_STACK"):
                stack.cleanup()
