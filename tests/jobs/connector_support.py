"""Helpers for the connector tests: projects with bindings, emulator settings, running a sync."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from shared.db.models.platform import ProjectSource
from shared.db.service.connectors import SOURCE_KIND, create_binding
from shared.db.service.projects import create_project, resolve_account_scope, scope_of
from shared.runtime import Runtime, install
from shared.scope import Scope
from tests.emulators import EmulatorServer

log = logging.getLogger("tests.connectors")

FAST_LIMITS = {f"{v}_RATE_LIMIT_PER_MINUTE": "600000" for v in ("CHATWOOT", "ATTIO", "LINEAR")} | {
    f"{v}_RATE_LIMIT_BURST": "10000" for v in ("CHATWOOT", "ATTIO", "LINEAR")}


def make_project(rt: Runtime, name: str = "Project", scope_key: str | None = None) -> Scope:
    with rt.transaction() as s:
        account = resolve_account_scope(session=s, scope_key=scope_key, scope_name=scope_key)
        return scope_of(create_project(session=s, name=name, account_scope=account))


def bind(rt: Runtime, scope: Scope, connector: str, external_id: Any) -> None:
    """Bind ``scope`` to the vendor tenant, taking it from any project of an earlier test (these tests skip
    the full-database truncation and isolate by project instead)."""
    with rt.transaction() as s:
        s.execute(delete(ProjectSource).filter_by(source_kind=SOURCE_KIND[connector], external_id=str(external_id)))
        create_binding(session=s, scope=scope, connector=connector, external_id=str(external_id))


def set_env(monkeypatch: pytest.MonkeyPatch, rt: Runtime, env: dict[str, str], *, drop: tuple[str, ...] = ()) -> None:
    """Point the runtime's settings at ``env`` (on top of the test environment)."""
    merged = {**rt.settings.environ, **FAST_LIMITS, **env}
    for name in drop:
        merged.pop(name, None)
    monkeypatch.setattr(rt, "settings", replace(rt.settings, environ=MappingProxyType(merged)))
    install(rt)


def sync(connector: str, scope: Scope) -> dict[str, Any]:
    """One sync through the platform flow (state row, errors, resolution), without RQ."""
    from jobs.connectors.sync import run_sync

    return run_sync(connector, scope, {}, log)["result"]


def count(rt: Runtime, model: Any, scope: Scope | None = None, **where: Any) -> int:
    with rt.session() as s:
        stmt = select(func.count()).select_from(model).filter_by(**where)
        if scope is not None:
            stmt = stmt.filter_by(**scope.as_filter())
        return s.scalar(stmt) or 0


def rows(rt: Runtime, model: Any, scope: Scope, *columns: str, order: str = "id") -> list[tuple[Any, ...]]:
    """Selected columns of a scope's rows, ids made project-neutral (compare runs across projects)."""
    pid = str(scope.project_id)
    with rt.session() as s:
        result = s.execute(select(*(getattr(model, c) for c in columns)).filter_by(**scope.as_filter())
                           .order_by(getattr(model, order))).all()
    return [tuple(v.replace(pid, "P") if isinstance(v, str) else v for v in row) for row in result]


@dataclass
class Sleeps:
    """Records the retry waits instead of sleeping (``VendorHttp.sleep`` swap point)."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture()
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    from shared.http import VendorHttp

    recorder = Sleeps()
    monkeypatch.setattr(VendorHttp, "sleep", staticmethod(recorder))
    return recorder


@pytest.fixture()
def fresh(runtime: Runtime) -> Runtime:
    """The migrated test database without the full truncation of ``clean``: connector tests create their
    own project per test and read everything through its scope."""
    install(runtime)
    return runtime


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server
