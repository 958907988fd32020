"""Importing this package registers every table on ``Base.metadata`` (one module per domain)."""

from shared.db.models import platform  # noqa: F401
