"""Recording who read or changed what. Rows are only ever inserted (see the migration triggers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AuditAction, AuditEvent


def add_audit(
    session: AsyncSession,
    actor: Actor,
    action: AuditAction,
    entity: str,
    entity_id: str | int | None = None,
    *,
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit row to the caller's transaction, so it commits (or not) with the change."""
    row = AuditEvent(
        actor=actor.label,
        actor_user_id=actor.user_id,
        source=actor.source,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        patient_id=patient_id,
        detail=detail or {},
    )
    session.add(row)
    return row


async def record_audit(
    database: Database,
    actor: Actor,
    action: AuditAction,
    entity: str,
    entity_id: str | int | None = None,
    *,
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record an audit event in its own transaction (for reads, which change nothing else)."""
    async with database.transaction() as session:
        add_audit(session, actor, action, entity, entity_id, patient_id=patient_id, detail=detail)


async def patient_audit_trail(
    database: Database, patient_id: int, limit: int = 100
) -> list[AuditEvent]:
    async with database.session() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
        return list(rows)
