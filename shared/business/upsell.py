"""Upsell status rules (business.md §B1) needed by the web layer.

Serves ``POST /upsell/<id>/status`` (any status may move to any status) and the ``GET /upsell/radar``
status filter; table ``upsell_opportunities``. Detection is in ``jobs/business/upsell.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.business.errors import InvalidInput
from shared.business.params import parse_enum

__all__ = ["UPSELL_STATUSES", "parse_upsell_status_filter", "validate_upsell_status"]

UPSELL_STATUSES: tuple[str, ...] = ("proposed", "accepted", "dismissed", "converted")


def validate_upsell_status(body: Mapping[str, Any]) -> str:
    """Body ``status`` (trimmed, lower-cased) must be an upsell status, else 400 ``invalid_upsell_status``."""
    status = parse_enum(body.get("status"), UPSELL_STATUSES, error_code="invalid_upsell_status")
    if status is None:
        raise InvalidInput("invalid_upsell_status", f"status must be one of: {', '.join(UPSELL_STATUSES)}")
    return status


def parse_upsell_status_filter(value: object) -> str | None:
    """``GET /upsell/radar?status=``: empty → None; unknown → 400 ``invalid_status``."""
    return parse_enum(value, UPSELL_STATUSES, error_code="invalid_status")
