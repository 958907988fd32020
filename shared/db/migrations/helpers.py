"""Helpers shared by revisions: the PostgreSQL scope-guard trigger (platform §4.3)."""

from __future__ import annotations

from alembic import op

SCOPE_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION enforce_project_scope_match() RETURNS trigger AS $$
DECLARE proj_scope uuid;
BEGIN
  IF NEW.project_id IS NULL THEN
    RAISE EXCEPTION 'cross-scope write rejected: project_id is required';
  END IF;
  SELECT account_scope_id INTO proj_scope FROM projects WHERE id = NEW.project_id;
  IF proj_scope IS NULL THEN
    RAISE EXCEPTION 'cross-scope write rejected: unknown project %', NEW.project_id;
  END IF;
  IF NEW.account_scope_id IS NULL THEN
    NEW.account_scope_id := proj_scope;
  ELSIF NEW.account_scope_id <> proj_scope THEN
    RAISE EXCEPTION 'cross-scope write rejected';
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_scope_guard_function() -> None:
    if is_postgres():
        op.execute(SCOPE_GUARD_FUNCTION)


def attach_scope_guard(*tables: str) -> None:
    """Attach the trigger to scoped tables (PostgreSQL only; the ORM listener covers SQLite)."""
    if not is_postgres():
        return
    for table in tables:
        op.execute(
            f"CREATE TRIGGER trg_{table}_scope BEFORE INSERT OR UPDATE OF project_id, account_scope_id "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION enforce_project_scope_match()"
        )


def detach_scope_guard(*tables: str) -> None:
    if not is_postgres():
        return
    for table in tables:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_scope ON {table}")
