"""``.env.example`` lists every variable the code reads (issue 2: "a .env.example with every variable")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READS = re.compile(
    r"""(?:environ|env)(?:\.get)?\(\s*["']([A-Z][A-Z0-9_]+)["']"""  # environ.get("X") / env.get("X")
    r"""|(?:environ|env)\[\s*["']([A-Z][A-Z0-9_]+)["']\s*\]"""  # environ["X"]
    r"""|env_(?:int|float|bool|str)\(\s*(?:[\w.]+,\s*)?["']([A-Z][A-Z0-9_]+)["']"""  # env_int("X", ...) helpers
    r"""|^[A-Z_]+_ENV\s*=\s*["']([A-Z][A-Z0-9_]+)["']""",  # THRESHOLD_ENV = "X"
    re.MULTILINE,
)
# Read by libraries or the platform, not configuration of Keel.
NOT_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR", "HOME", "PATH", "PYTHONPATH"}


def names_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for folder in ("shared", "jobs", "web", "workers"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in READS.finditer(path.read_text()):
                names.update(g for g in match.groups() if g)
    return names - NOT_SETTINGS


def names_documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_the_scan_finds_the_settings_it_should() -> None:
    read = names_read_by_the_code()
    assert {"DATABASE_URL", "REDIS_URL", "CHATWOOT_CONVERSATIONS_LIMIT", "WORKER_EXECUTION_TTL_SECONDS"} <= read


def test_every_variable_the_code_reads_is_in_env_example() -> None:
    missing = sorted(names_read_by_the_code() - names_documented())
    assert not missing, f".env.example lacks: {missing}"
