"""Alembic environment: the URL comes from ``Settings`` (or the caller's config attribute)."""

from __future__ import annotations

from alembic import context

import shared.db.models  # noqa: F401  (registers every table)
from shared.db.base import Base

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from shared.config import Settings
        from shared.db.engine import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url)
        with engine.connect() as conn:
            _configure_and_run(conn)
        engine.dispose()
    else:
        _configure_and_run(connection)


def _configure_and_run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        transaction_per_migration=True,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
