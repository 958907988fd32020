"""Worker pools (platform §1): which queues each Procfile process serves, in priority order."""

from __future__ import annotations

from shared.catalog import QUEUES

POOLS: dict[str, tuple[str, ...]] = {
    "chatwoot": ("chatwoot",),
    "attio": ("attio",),
    "linear": ("linear",),
    "embeddings": ("embeddings",),
    "kag_signals": ("kag_signals",),
    "kag_snapshots": ("kag_snapshots",),
    "kag_similarity": ("kag_similarity",),
    "kag_forecast": ("kag_forecast",),
    "kag_recommendations": ("kag_recommendations",),
    "platform": ("platform", "intelligence", "outbound"),
    # One process serving everything, highest priority first: for single-machine runs.
    "all": ("platform", "chatwoot", "attio", "linear", "embeddings", "kag_signals", "kag_snapshots",
            "kag_similarity", "kag_forecast", "kag_recommendations", "intelligence", "outbound"),
}

assert set(POOLS["all"]) == set(QUEUES)


def queues_for(pool_or_queues: str) -> tuple[str, ...]:
    """A pool name, or a comma-separated list of queue names."""
    if pool_or_queues in POOLS:
        return POOLS[pool_or_queues]
    names = tuple(n.strip() for n in pool_or_queues.split(",") if n.strip())
    unknown = [n for n in names if n not in QUEUES]
    if unknown or not names:
        raise SystemExit(f"unknown pool or queue: {', '.join(unknown) or pool_or_queues!r}; "
                         f"pools: {', '.join(POOLS)}; queues: {', '.join(QUEUES)}")
    return names
