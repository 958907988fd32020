from __future__ import annotations

from web.validation import Body, Limit, Query


class EmbeddingsRunIn(Body):
    retry_failed: bool = False


class TickQuery(Query):
    limit: Limit(10, 100)
