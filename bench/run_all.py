"""Run every benchmark of ``bench/`` and write the summary table.

    .venv/bin/python bench/run_all.py                  # every benchmark, then the summary
    .venv/bin/python bench/run_all.py --only fuzz load_status
    .venv/bin/python bench/run_all.py --skip resilience
    .venv/bin/python bench/run_all.py --summary-only   # re-read bench/results/*.json, run nothing

Benchmarks are discovered, not listed: ``bench/bench_*.py``, ``bench/eval_search.py``, ``bench/fuzz.py``,
``bench/resilience.py``, ``bench/load_status.py``. Each runs as its own process (``python bench/<name>.py``)
and writes ``bench/results/<name>.json``. The summary (``bench/results/summary.md`` and ``summary.json``, and
the table in the README's Benchmarks section) has one row per figure: value, the baseline measured in the
same run, the ratio, the target and the machine.

A results file states its figures in a ``figures`` list (``figure``, ``value``, ``unit``, ``baseline``,
``ratio``, ``target``, ``meets``); for files without one, the summary reads the common keys (``ratio``,
``target_ratio``/``target``, ``*p95_ms`` with ``target_p95_ms``, ``recall@k``/``mrr``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
README = ROOT / "README.md"
EXTRA = ("eval_search", "fuzz", "resilience", "load_status")
BEGIN, END = "<!-- bench-summary:begin -->", "<!-- bench-summary:end -->"
MAX_ROWS_PER_FILE = 12


def discover() -> list[str]:
    names = sorted(p.stem for p in BENCH.glob("bench_*.py"))
    return names + [n for n in EXTRA if (BENCH / f"{n}.py").exists()]


def run(name: str, timeout: float) -> dict[str, Any]:
    started_wall, started = time.time(), time.monotonic()
    print(f"== {name}", flush=True)
    try:
        proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py")], cwd=str(ROOT), timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        code = None
    written = sorted(p.name for p in RESULTS.glob("*.json") if p.stat().st_mtime >= started_wall
                     and p.name not in ("summary.json",))
    took = time.monotonic() - started
    print(f"   exit {code if code is not None else 'timeout'} in {took:.0f}s; wrote {', '.join(written) or 'nothing'}",
          flush=True)
    return {"benchmark": name, "exit_code": code, "seconds": round(took, 1), "results": written}


# --- reading results ------------------------------------------------------------------------------------------
def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _leaves(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, str(k)))]
    return [(path, node)]


def rows_for(name: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures of one results file (its ``figures`` list, else the common keys)."""
    if isinstance(data.get("figures"), list):
        return [dict(f) for f in data["figures"] if isinstance(f, dict) and "figure" in f]
    rows: list[dict[str, Any]] = []
    target = data.get("target_ratio", data.get("target"))
    for key, value in data.items():
        if key.startswith("ratio") and _num(value):
            meets = data.get("meets_target")
            if meets is None and _num(data.get("target_ratio")):  # target_ratio: a floor, higher is better
                meets = value >= data["target_ratio"]
            rows.append({"figure": f"{name}: {key.replace('_', ' ')}", "value": value, "unit": "x",
                         "baseline": "raw path, same run", "ratio": value,
                         "target": target if _num(target) else None, "meets": meets})
    if _num(data.get("target_p95_ms")):
        for path, value in _leaves(data):
            if path[-1] == "p95_ms" and _num(value) and len(path) <= 3:
                label = ".".join(p for p in path[:-1] if p != "results")
                rows.append({"figure": f"{name}: {label} p95", "value": value, "unit": "ms", "baseline": None,
                             "ratio": None, "target": f"<= {data['target_p95_ms']}",
                             "meets": value <= data["target_p95_ms"]})
    if not rows:
        for path, value in _leaves(data):
            if _num(value) and re.fullmatch(r"recall@\d+|mrr", path[-1]) and "all" in path:
                rows.append({"figure": f"{name}: {'.'.join(p for p in path if p not in ('modes', 'all'))}",
                             "value": value, "unit": "", "baseline": None, "ratio": None, "target": None,
                             "meets": None})
    return rows[:MAX_ROWS_PER_FILE]


def machine_text(machine: dict[str, Any] | None) -> str:
    if not machine:
        return "?"
    parts = [f"{machine.get('cpus', '?')} CPU"]
    if machine.get("cpu_model"):
        parts.append(str(machine["cpu_model"]))
    if machine.get("memory_gb"):
        parts.append(f"{machine['memory_gb']} GB")
    parts.append(f"Python {machine.get('python', '?')}")
    if _num(machine.get("load_average_1m")):
        parts.append(f"load {machine['load_average_1m']}")
    return ", ".join(parts)


def collect() -> list[dict[str, Any]]:
    out = []
    for path in sorted(RESULTS.glob("*.json")):
        if path.name == "summary.json":
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        name = data.get("benchmark") or path.stem
        for row in rows_for(str(name), data):
            row.update({"results_file": path.name, "generated_at": data.get("generated_at"),
                        "machine": machine_text(data.get("machine"))})
            out.append(row)
    return out


def _cell(value: Any, unit: str = "") -> str:
    if value is None or value == "":
        return "—"
    if _num(value):
        text = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
        return f"{text} {unit}".strip() if unit and unit != "x" else text
    return str(value).replace("|", "\\|")


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| figure | value | baseline (same run) | ratio | target | meets | machine |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        meets = {True: "yes", False: "**no**"}.get(r.get("meets"), "—")
        lines.append(f"| {_cell(r['figure'])} | {_cell(r.get('value'), r.get('unit', ''))} | "
                     f"{_cell(r.get('baseline'), r.get('unit', '') if _num(r.get('baseline')) else '')} | "
                     f"{_cell(r.get('ratio'))} | {_cell(r.get('target'))} | {meets} | {_cell(r.get('machine'))} |")
    return "\n".join(lines)


def write_summary(rows: list[dict[str, Any]], runs: list[dict[str, Any]], update_readme: bool) -> str:
    body = table(rows)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    md = (f"# Benchmark summary\n\nGenerated {stamp} by `.venv/bin/python bench/run_all.py` from "
          f"`bench/results/*.json`.\n\n{body}\n")
    if runs:
        md += "\n## This run\n\n| benchmark | exit | seconds | results |\n|---|---|---|---|\n"
        md += "\n".join(f"| {r['benchmark']} | {r['exit_code'] if r['exit_code'] is not None else 'timeout'} | "
                        f"{r['seconds']} | {', '.join(r['results']) or '—'} |" for r in runs) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.md").write_text(md, encoding="utf-8")
    (RESULTS / "summary.json").write_text(json.dumps({"generated_at": stamp, "rows": rows, "runs": runs},
                                                     indent=2, default=str) + "\n", encoding="utf-8")
    if update_readme:
        _update_readme(body, stamp)
    return md


def _update_readme(body: str, stamp: str) -> None:
    """Replace the table between the markers of the README's Benchmarks section (nothing else is touched)."""
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    block = f"{BEGIN}\n_Last run: {stamp} (`bench/results/summary.md`)._\n\n{body}\n{END}"
    README.write_text(head + block + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names (file stems) to run")
    parser.add_argument("--skip", nargs="*", default=[], help="benchmark names not to run")
    parser.add_argument("--summary-only", action="store_true", help="run nothing; summarize bench/results/")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    names = discover()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; found {names}")
        names = [n for n in names if n in args.only]
    names = [n for n in names if n not in args.skip]
    runs = [] if args.summary_only else [run(name, args.timeout) for name in names]
    md = write_summary(collect(), runs, update_readme=not args.no_readme)
    print(md)
    failed = [r["benchmark"] for r in runs if r["exit_code"] != 0]
    if failed:
        print(f"benchmarks that failed or missed a target: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
