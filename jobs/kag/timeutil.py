"""UTC time helpers of kag.md §1 and connectors-rag.md §0.3 (`parse_ts`, `parse_date`).

Defined once in `shared.kag.timeutil` (the web layer and the services use it too); re-exported here
for the KAG core.
"""

from __future__ import annotations

from shared.kag.timeutil import (
    DAY,
    date_key,
    day_key,
    days_between,
    iso_z,
    parse_date,
    parse_ts,
    utc_date,
)

__all__ = [
    "DAY",
    "date_key",
    "day_key",
    "days_between",
    "iso_z",
    "parse_date",
    "parse_ts",
    "utc_date",
]
