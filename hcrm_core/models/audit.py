"""The audit log: append-only (database triggers refuse UPDATE and DELETE; see migrations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow
from hcrm_core.models.base_types import enum_type
from hcrm_core.models.enums import AuditAction


class AuditEvent(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_patient_at", "patient_id", "at"),
        Index("ix_audit_log_actor_at", "actor_user_id", "at"),
        # The IVR report finds the call that cancelled an appointment by its audit row.
        Index("ix_audit_log_entity", "entity", "entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # No foreign keys: an audit row must outlive whatever it describes.
    actor_user_id: Mapped[int | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(120))  # "user:alice", "ivr", "system"
    action: Mapped[AuditAction] = mapped_column(enum_type(AuditAction))
    entity: Mapped[str] = mapped_column(String(40))  # "patient", "appointment", "recording"
    entity_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column()
    source: Mapped[str | None] = mapped_column(String(64))  # remote address or channel
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


AUDIT_TABLE = AuditEvent.__tablename__
