"""Declared request schemas (pydantic) and the platform's parsing rules (§2.5, §2.6).

Body models subclass ``Body`` (strict types, unknown keys ignored); a field's failure maps to the
spec's error code through ``error_codes`` (field name → code), else ``default_error``. Query
models subclass ``Query``; ``Limit``/``Offset``/``Choice`` raise the spec's codes themselves.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Any, ClassVar, TypeVar

from flask import request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from shared.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

_INT = re.compile(r"^-?\d+$")
M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    error_codes: ClassVar[dict[str, str]] = {}
    default_error: ClassVar[str] = "invalid_body"


class EmptyBody(Body):
    """A POST without fields: the body is still parsed per §2.5 (400/413/415), unknown keys ignored."""


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")
    error_codes: ClassVar[dict[str, str]] = {}
    default_error: ClassVar[str] = "invalid_query"


def Limit(default: int, maximum: int) -> Any:  # noqa: N802 - a type factory
    def parse(value: Any) -> int:
        if value is None or value == "":
            return default
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and _INT.match(value))):
            raise PydanticCustomError("invalid_limit", "limit must be an integer")
        return max(1, min(maximum, int(value)))

    return Annotated[int, BeforeValidator(parse),
                     Field(default=default, json_schema_extra={"minimum": 1, "maximum": maximum})]


def _parse_offset(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and _INT.match(value))):
        raise PydanticCustomError("invalid_offset", "offset must be an integer")
    return max(0, min(100_000, int(value)))


Offset = Annotated[int, BeforeValidator(_parse_offset), Field(default=0, ge=0, le=100_000)]


def Choice(values: tuple[str, ...], code: str) -> Any:  # noqa: N802 - a type factory
    def parse(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError(code, f"must be one of {', '.join(values)}")
        value = value.strip().lower()
        if not value:
            return None
        if value not in values:
            raise PydanticCustomError(code, f"must be one of {', '.join(values)}")
        return value

    return Annotated[str | None, BeforeValidator(parse),
                     Field(default=None, json_schema_extra={"enum": [*values, ""]})]


def Loose(schema: dict[str, Any], description: str = "") -> Any:  # noqa: N802 - a field factory
    """A documented field of any JSON type (default None) whose parsing is left to a route's own
    validator (e.g. business.md §0.4: clamp and default instead of rejecting); ``schema`` is what the
    OpenAPI document shows."""
    return Field(default=None, description=description or None, json_schema_extra=schema)


def _error_from(model: type[BaseModel], exc: ValidationError) -> InvalidInput:
    first = exc.errors(include_url=False)[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    etype = first.get("type", "")
    if etype.startswith("invalid_") or etype.startswith("unsupported_"):
        code = etype
    else:
        code = getattr(model, "error_codes", {}).get(field) or getattr(model, "default_error", "invalid_body")
    message = (first.get("msg") or "Invalid input").removeprefix("Value error, ")
    if field and not message.lower().startswith(field.lower()):
        message = f"{field}: {message}"
    return InvalidInput(code, message)


def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object per §2.5 (empty → ``{}``; 413/415/400 otherwise)."""
    limit = request.max_content_length
    raw = request.get_data(cache=True)
    if limit is not None and len(raw) > limit:
        raise PayloadTooLarge(message="Request body is too large")
    # A form body may already have been consumed by form parsing (the CSRF check reads request.form),
    # leaving ``raw`` empty: its declared length or parsed fields still make it a non-JSON body.
    if request.mimetype != "application/json" and (raw or request.content_length or request.form or request.files):
        raise UnsupportedMediaType(message="Content-Type must be application/json")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid_json", "Malformed JSON body") from exc
    if not isinstance(data, dict):
        raise InvalidInput("invalid_body", "JSON body must be an object")
    return data


def strip_nul(value: Any) -> Any:
    """Remove NUL characters from every string of a JSON value: PostgreSQL text and JSONB cannot hold them."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value


def parse_body(model: type[M]) -> M:
    data = strip_nul(read_json_object())
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _error_from(model, exc) from None


def parse_query(model: type[M]) -> M:
    # NUL characters are removed (as the body parsers do): PostgreSQL text cannot hold them (found by fuzzing).
    args = {k: v.replace("\x00", "") for k, v in request.args.to_dict().items()}
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise _error_from(model, exc) from None


def parse_uuid(value: str, code: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(code, "Invalid id") from None


def parse_positive_int(value: str, code: str) -> int:
    if not value.isdigit() or int(value) < 1 or len(value) > 18:
        raise InvalidInput(code, "Invalid id")
    return int(value)
