"""Request schemas of the connector routes (platform §6.6, §16)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from shared.db.models.platform import ERROR_STATUSES
from shared.db.service.connectors import CONNECTORS
from web.validation import Body, Choice, Limit, Query

_RQ_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def parse_connector(value: Any) -> str:
    """A connector name (trimmed, lowercased) or ``400 unsupported_connector``."""
    name = value.strip().lower() if isinstance(value, str) else None
    if name not in CONNECTORS:
        raise PydanticCustomError("unsupported_connector", "connector must be one of chatwoot, linear, attio")
    return name


def _error_ids(value: Any) -> list[int] | None:
    if value is None:
        return None
    ok = isinstance(value, list) and 1 <= len(value) <= 100 and all(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**63 for v in value)
    if not ok:
        raise PydanticCustomError("invalid_error_ids", "error_ids must be an array of 1-100 positive integers")
    return list(dict.fromkeys(value))


def _rq_job_ids(value: Any) -> list[str] | None:
    if value is None:
        return None
    ok = isinstance(value, list) and 1 <= len(value) <= 100 and all(
        isinstance(v, str) and _RQ_ID.match(v) for v in value)
    if not ok:
        raise PydanticCustomError("invalid_job_ids", "rq_job_ids must be an array of 1-100 job ids")
    return list(dict.fromkeys(value))


def _external_id(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= 200:
        raise PydanticCustomError("invalid_external_id", "external_id must be a string of 1-200 characters")
    return text


class ErrorsQuery(Query):
    status: Choice(ERROR_STATUSES, "invalid_status")
    connector: Choice(CONNECTORS, "unsupported_connector")
    limit: Limit(100, 500)


class BindingIn(Body):
    # validate_default: a missing field runs the validator too (→ its error code, not a generic one).
    connector: Annotated[str, BeforeValidator(parse_connector),
                         Field(default=None, validate_default=True, json_schema_extra={"enum": list(CONNECTORS)})]
    external_id: Annotated[str, BeforeValidator(_external_id),
                           Field(default=None, validate_default=True, min_length=1, max_length=200)]


class RetryIn(Body):
    error_ids: Annotated[list[int] | None, BeforeValidator(_error_ids),
                         Field(json_schema_extra={"minItems": 1, "maxItems": 100})] = None
    rq_job_ids: Annotated[list[str] | None, BeforeValidator(_rq_job_ids),
                          Field(json_schema_extra={"minItems": 1, "maxItems": 100})] = None
    connector: Choice(CONNECTORS, "unsupported_connector")
    include_dead_letter: bool = False
    reset_attempts: bool = False
