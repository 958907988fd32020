"""The business modules are pure: importing them loads no database, Redis, RQ or Flask code."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import jobs.business
import shared.business

FORBIDDEN = ("sqlalchemy", "redis", "rq", "flask", "psycopg")


def _modules() -> list[str]:
    names = []
    for package in (shared.business, jobs.business):
        names += [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    return names


def test_business_modules_import_no_infrastructure() -> None:
    modules = _modules()
    assert len(modules) >= 20
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({FORBIDDEN!r})))")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_forbidden_import_statements() -> None:
    for package in (shared.business, jobs.business):
        for path in Path(package.__path__[0]).glob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                stripped = line.strip()
                if stripped.startswith(("import ", "from ")):
                    top = stripped.split()[1].split(".")[0]
                    assert top not in FORBIDDEN, f"{path.name}: {stripped}"
