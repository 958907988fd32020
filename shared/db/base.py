"""Declarative base, portable column types and the scoped-table mixin (platform §14)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Identity, Integer, MetaData, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from shared.timeutil import utcnow  # noqa: E402

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "ix": "ix_%(table_name)s_%(column_0_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")
TZDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def bigint_pk() -> Mapped[int]:
    return mapped_column(BigId, Identity(), primary_key=True)


def created_col() -> Mapped[datetime]:
    return mapped_column(TZDateTime, nullable=False, server_default=func.now(), default=utcnow)


def updated_col() -> Mapped[datetime]:
    return mapped_column(TZDateTime, nullable=False, server_default=func.now(), default=utcnow,
                         onupdate=utcnow)


class ScopedMixin:
    """``project_id`` + ``account_scope_id`` on every scoped table; guarded by ``shared.db.scope_guard``."""

    __scoped__ = True

    @declared_attr
    def project_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805
        return mapped_column(Uuid, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)

    @declared_attr
    def account_scope_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805
        return mapped_column(Uuid, ForeignKey("account_scopes.id", ondelete="RESTRICT"), nullable=False)


def scoped_tables() -> list[str]:
    """Names of every table whose model uses ``ScopedMixin`` (for the PostgreSQL trigger)."""
    return sorted(
        m.class_.__tablename__ for m in Base.registry.mappers if getattr(m.class_, "__scoped__", False)
    )
