"""Search quality on the demo dataset with the real offline model (the fast form of bench/eval_search.py).

The chunks come straight from the demo fixture (no connector over HTTP); the queries, answer key and
metrics are the benchmark's. Slow-ish: the local model embeds ~2 000 chunks.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.eval_search import DEMO_NOW, evaluate
from bench.rag_harness import demo_chatwoot_accounts, embed_all, load_chatwoot_chunks, new_project, with_env
from shared.runtime import Runtime, install
from shared.vectors import VectorStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return demo_chatwoot_accounts(DEMO_NOW)["accounts"]


def test_hybrid_is_best_and_recall_at_10_is_at_least_0_8(clean: Runtime, vectors: VectorStore,
                                                          demo: dict[str, Any]) -> None:
    rt = install(with_env(clean, {"EMBEDDINGS_PROVIDER": "local"}))
    try:
        projects, labels = {}, {}
        for name, account_id in (("all", 7), ("ru", 8), ("en", 9)):
            projects[name] = new_project(rt, f"Quality {name}")
            labels |= load_chatwoot_chunks(rt, projects[name], demo[str(account_id)], account_id)
            embed_all(rt, projects[name])
        result = evaluate(rt, projects, labels=labels)
    finally:
        install(clean)
    modes = {mode: m["all"] for mode, m in result["modes"].items()}
    hybrid = modes["hybrid"]
    assert hybrid["recall@10"] >= 0.8, modes
    for metric in ("recall@5", "recall@10", "mrr"):
        assert hybrid[metric] >= max(modes["dense"][metric], modes["lexical"][metric]), (metric, modes)
    assert result["modes"]["hybrid"]["cross"]["recall@10"] >= 0.8, result["modes"]["hybrid"]["cross"]
