"""KAG feature flags and settings (kag.md §2) read from an environment mapping into a frozen value.

`KagSettings.from_env(os.environ)` is meant to be called once by `shared/config.py` (or a test)
and passed down; nothing here reads the process environment at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.kag.vocab import FORECAST_MODELS, Flag

__all__ = ["KagSettings", "parse_flag"]

_TRUE = frozenset({"1", "true", "yes", "on", "enabled"})


def parse_flag(raw: str | None, default: bool) -> bool:
    """Platform boolean: `1,true,yes,on,enabled` → true; unset/empty → default; else false."""
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() in _TRUE


def _bounded_int(raw: str | None, default: int, lo: int, hi: int) -> int:
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        return default
    return min(max(value, lo), hi)


@dataclass(frozen=True)
class KagSettings:
    kag_enabled: bool = True
    recommendations_enabled: bool = True
    snapshots_enabled: bool = True
    forecasting_enabled: bool = True
    recommendations_v2_enabled: bool = True
    event_log_lookback_days: int = 14
    forecast_model: str = "rules_v1"
    snapshot_retention_days: int = 400
    history_retention_days: int = 180
    process_event_retention_days: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KagSettings:
        model = (env.get("KAG_FORECAST_MODEL") or "rules_v1").strip().lower()
        return cls(
            kag_enabled=parse_flag(env.get(Flag.KAG_ENABLED), True),
            recommendations_enabled=parse_flag(env.get(Flag.RECOMMENDATIONS_ENABLED), True),
            snapshots_enabled=parse_flag(env.get(Flag.KAG_SNAPSHOTS_ENABLED), True),
            forecasting_enabled=parse_flag(env.get(Flag.KAG_FORECASTING_ENABLED), True),
            recommendations_v2_enabled=parse_flag(env.get(Flag.KAG_RECOMMENDATIONS_V2_ENABLED), True),
            event_log_lookback_days=_bounded_int(env.get("KAG_EVENT_LOG_LOOKBACK_DAYS"), 14, 1, 90),
            forecast_model=model if model in FORECAST_MODELS else "rules_v1",
            snapshot_retention_days=_bounded_int(env.get("KAG_SNAPSHOT_RETENTION_DAYS"), 400, 35, 3650),
            history_retention_days=_bounded_int(env.get("KAG_HISTORY_RETENTION_DAYS"), 180, 30, 3650),
            process_event_retention_days=_bounded_int(
                env.get("KAG_PROCESS_EVENT_RETENTION_DAYS"), 30, 7, 365
            ),
        )
