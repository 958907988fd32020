"""The KAG core stays pure: importing every module pulls in no DB, Redis, RQ or Flask.

`handlers*` modules are the wiring (job handlers that read and write the database) and are left out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jobs.kag

SCRIPT = """
import importlib, pkgutil, sys
import jobs.kag
for info in pkgutil.iter_modules(jobs.kag.__path__):
    if not info.name.startswith("handlers"):
        importlib.import_module(f"jobs.kag.{info.name}")
bad = sorted(m for m in sys.modules if m.split(".")[0] in {"sqlalchemy", "redis", "rq", "flask", "psycopg"})
print(",".join(bad))
"""


def test_importing_the_core_loads_no_infrastructure_module():
    root = Path(jobs.kag.__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
