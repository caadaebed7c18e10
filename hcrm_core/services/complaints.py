"""Complaints filed by agents on a patient's behalf."""

from __future__ import annotations

from sqlalchemy import select

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import PatientNotFound, ValidationFailed
from hcrm_core.models import AuditAction, Call, Complaint, Patient
from hcrm_core.services.audit import add_audit

CATEGORIES = ("waiting_time", "staff", "billing", "appointment", "facilities", "care", "other")
MAX_DESCRIPTION = 4000


async def file_complaint(
    database: Database,
    actor: Actor,
    *,
    patient_id: int,
    category: str,
    description: str,
    linkedid: str | None = None,
) -> Complaint:
    """Open a complaint; ``linkedid`` ties it to the call it was made on (if logged)."""
    if category not in CATEGORIES:
        raise ValidationFailed("category", f"choose one of: {', '.join(CATEGORIES)}")
    text = description.strip()
    if not text:
        raise ValidationFailed("description", "describe the complaint")
    if len(text) > MAX_DESCRIPTION:
        raise ValidationFailed("description", f"at most {MAX_DESCRIPTION} characters")
    async with database.transaction() as session:
        if await session.get(Patient, patient_id) is None:
            raise PatientNotFound(f"no patient with id {patient_id}")
        call_id = None
        if linkedid:
            call_id = await session.scalar(select(Call.id).where(Call.linkedid == linkedid))
        complaint = Complaint(
            patient_id=patient_id,
            call_id=call_id,
            category=category,
            description=text,
            owner_user_id=actor.user_id,
        )
        session.add(complaint)
        await session.flush()
        add_audit(
            session,
            actor,
            AuditAction.CREATE,
            "complaint",
            complaint.id,
            patient_id=patient_id,
            detail={"category": category, "call_id": call_id},
        )
    return complaint
