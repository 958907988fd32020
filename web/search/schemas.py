"""``POST /search`` body (connectors-rag §9.1, §9.3, §16): every rule maps to the spec's error code."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from shared.chunking import RAG_SOURCE_TYPES, ChunkingSettings
from shared.search import MAX_QUERY_CHARS, MODES, TOP_K_DEFAULT, TOP_K_MAX, SearchRequest
from web.validation import Body

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _query(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("query_required", "query must be a non-empty string")
    value = value.strip()
    if not value:
        raise PydanticCustomError("query_required", "query must be a non-empty string")
    return value[:MAX_QUERY_CHARS]


def _top_k(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return TOP_K_DEFAULT  # non-integer -> the default
    return max(1, min(TOP_K_MAX, value))


def _source_types(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PydanticCustomError("invalid_source_types", "source_types must be a list of strings")
    wanted = [v.strip() for v in value]
    unknown = sorted({v for v in wanted if v not in RAG_SOURCE_TYPES})
    if unknown:
        raise PydanticCustomError("invalid_source_types", "unknown source types: {unknown}",
                                  {"unknown": ", ".join(unknown)})
    return tuple(dict.fromkeys(wanted))


def parse_bound(value: Any, *, end_of_day: bool) -> datetime | None:
    """ISO date (``date_to`` → 23:59:59.999Z) or date-time (naive = UTC); ``None`` stays ``None``."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("invalid_date", "dates must be ISO-8601 dates or date-times")
    text = value.strip()
    try:
        if _DATE_ONLY.match(text):
            day = datetime.fromisoformat(text).date()
            bound = datetime.combine(day, time.min, tzinfo=UTC)
            return bound + timedelta(days=1, milliseconds=-1) if end_of_day else bound
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01 with a positive offset, 9999-12-31 end of day
        raise PydanticCustomError("invalid_date", "dates must be ISO-8601 dates or date-times") from None


def _mode(value: Any) -> str:
    if value is None:
        return "hybrid"
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_mode", "mode must be one of hybrid, dense, lexical")
    value = value.strip().lower() or "hybrid"
    if value not in MODES:
        raise PydanticCustomError("invalid_mode", "mode must be one of hybrid, dense, lexical")
    return value


def _min_score(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PydanticCustomError("invalid_body", "min_score must be a number")
    return max(-1.0, min(1.0, float(value)))


def _conversation(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_body", "conversation_global_id must be a string")
    return value.strip() or None


class SearchIn(Body):
    model_config = ConfigDict(strict=False, extra="ignore")
    error_codes = {"query": "query_required"}

    query: Annotated[str, BeforeValidator(_query)]
    top_k: Annotated[int, BeforeValidator(_top_k)] = Field(
        TOP_K_DEFAULT, validation_alias=AliasChoices("topK", "top_k"), json_schema_extra={"minimum": 1, "maximum": 50})
    source_types: Annotated[tuple[str, ...], BeforeValidator(_source_types)] = ()
    date_from: Annotated[datetime | None, BeforeValidator(lambda v: parse_bound(v, end_of_day=False))] = None
    date_to: Annotated[datetime | None, BeforeValidator(lambda v: parse_bound(v, end_of_day=True))] = None
    conversation_global_id: Annotated[str | None, BeforeValidator(_conversation)] = None
    min_score: Annotated[float | None, BeforeValidator(_min_score)] = None
    mode: Annotated[str, BeforeValidator(_mode)] = "hybrid"

    @model_validator(mode="after")
    def _range(self) -> SearchIn:
        if self.date_from is not None and self.date_to is not None and self.date_from > self.date_to:
            raise PydanticCustomError("invalid_date_range", "date_from is after date_to")
        return self

    def to_request(self, chunking: ChunkingSettings) -> SearchRequest:
        """Empty ``source_types`` means every type enabled in ``RAG_SOURCES``."""
        return SearchRequest(
            query=self.query, top_k=self.top_k, mode=self.mode,
            source_types=self.source_types or chunking.rag_sources, date_from=self.date_from, date_to=self.date_to,
            conversation_global_id=self.conversation_global_id, min_score=self.min_score,
        )
