"""Importing this package registers every table on ``Base.metadata`` (one module per domain)."""

from shared.db.models import (  # noqa: F401
    attio,
    business,
    chatwoot,
    growth,
    kag,
    kag_v2,
    linear,
    platform,
    rag,
)
