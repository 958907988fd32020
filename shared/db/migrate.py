"""The ``release`` step: ``alembic upgrade head`` under an advisory lock, then seed the default scope.

Usage: ``python -m shared.db.migrate`` (Procfile ``release``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from shared.config import Settings
from shared.db.engine import make_engine

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
ADVISORY_LOCK_ID = 7_302_100_001


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` under a PostgreSQL advisory lock (concurrent release steps run one at a time)."""
    cfg = alembic_config()
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_ID})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            if postgres:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_ID})
                conn.commit()


def main() -> int:
    from shared import logs

    settings = Settings.from_env()
    logs.configure(settings.log_level)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with engine.connect() as conn:
        log.info("migrations applied", extra={"fields": {"revision": current_revision(conn)}})
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
