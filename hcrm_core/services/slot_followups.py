"""Telling a patient the hospital moved or cancelled their appointment.

A call in the ``appointment-changed`` campaign when the patient may be called (consent, no
do-not-call, a number, and the campaign not stopped by a supervisor), else a follow-up task for
a person. Written in the caller's transaction, with the change it follows.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.errors import AppointmentNotFound
from hcrm_core.models import (
    AttemptStatus,
    AuditAction,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    CampaignStatus,
    FollowUpStatus,
    FollowUpTask,
    Patient,
    PatientPhone,
    TaskSource,
)
from hcrm_core.services.audit import add_audit
from hcrm_core.services.campaigns_config import parse_config, stored
from hcrm_core.services.case_history import record_task_status

CHANGED_CAMPAIGN_NAME = "Appointment changes"
_FOLLOWUP_PRIORITY = 2


async def follow_up(
    session: AsyncSession,
    timezone: ZoneInfo,
    patient_id: int,
    appointment_id: int,
    note: str,
    now: datetime,
    *,
    earlier: int | None = None,
) -> str:
    """A call in the appointment-changed campaign when the patient may be called, else a
    task for a person. Returns "call" or "task".

    A call still waiting about the same booking (``earlier``: the appointment this one
    replaces) is pointed at the latest state instead: one call says where it ended up.
    """
    patient = await session.get(Patient, patient_id)
    if patient is None:
        raise AppointmentNotFound(f"no patient for appointment {appointment_id}")
    phone = await session.scalar(
        select(PatientPhone.e164)
        .where(PatientPhone.patient_id == patient_id)
        .order_by(PatientPhone.is_primary.desc(), PatientPhone.id)
        .limit(1)
    )
    campaign_id = None
    if patient.consent_call and not patient.do_not_call and phone:
        campaign_id = await _changed_campaign(session)
    if campaign_id is not None and phone:
        waiting = await session.scalar(
            select(CampaignAttempt)
            .join(Campaign, Campaign.id == CampaignAttempt.campaign_id)
            .where(
                Campaign.kind == CampaignKind.APPOINTMENT_CHANGED,
                CampaignAttempt.status == AttemptStatus.SCHEDULED,
                CampaignAttempt.appointment_id.in_({appointment_id, earlier or appointment_id}),
            )
            .limit(1)
        )
        if waiting is not None:
            waiting.appointment_id = appointment_id
            waiting.campaign_id = campaign_id
            return "call"
        session.add(
            CampaignAttempt(
                campaign_id=campaign_id,
                patient_id=patient_id,
                appointment_id=appointment_id,
                phone_e164=phone,
                attempt_no=1,
                status=AttemptStatus.SCHEDULED,
                scheduled_for=now,
            )
        )
        return "call"
    task = FollowUpTask(
        patient_id=patient_id,
        reason=note[:200],
        priority=_FOLLOWUP_PRIORITY,
        source_kind=TaskSource.APPOINTMENT_CHANGE,
        source_ref=f"appointment:{appointment_id}",
        due_date=now.astimezone(timezone).date(),
        status=FollowUpStatus.OPEN,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    record_task_status(session, task, now, "slot-followups")
    return "task"


async def _changed_campaign(session: AsyncSession) -> int | None:
    """The campaign that calls patients about changed appointments, created (running) on
    first need and reopened once it completed; None when a supervisor stopped it (then
    the patient gets a task instead of a call)."""
    campaign = await session.scalar(
        select(Campaign)
        .where(Campaign.kind == CampaignKind.APPOINTMENT_CHANGED)
        .order_by(Campaign.id.desc())
        .limit(1)
    )
    if campaign is None:
        campaign = Campaign(
            name=CHANGED_CAMPAIGN_NAME,
            kind=CampaignKind.APPOINTMENT_CHANGED,
            status=CampaignStatus.RUNNING,
            settings=stored(parse_config(CampaignKind.APPOINTMENT_CHANGED, {})),
        )
        session.add(campaign)
        await session.flush()
        add_audit(session, Actor.system(), AuditAction.CREATE, "campaign", campaign.id)
        return campaign.id
    if campaign.status is CampaignStatus.STOPPED:
        return None
    if campaign.status is CampaignStatus.COMPLETED:
        campaign.status = CampaignStatus.RUNNING
        add_audit(
            session,
            Actor.system(),
            AuditAction.UPDATE,
            "campaign",
            campaign.id,
            detail={"status": "running", "why": "appointment changed"},
        )
    return campaign.id
