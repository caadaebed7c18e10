"""Continuous enrolment of running campaigns, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import (
    AttemptStatus,
    CampaignAttempt,
    Channel,
    ChronicCondition,
    Patient,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_enrolment import WITHDRAWN, EnrolmentService
from tests.support.factories import make_hospital, make_patient

ADMIN = Actor("user:admin", user_id=None)


async def _attempts(database: Database, campaign_id: int) -> list[CampaignAttempt]:
    async with database.session() as session:
        rows = await session.scalars(
            select(CampaignAttempt)
            .where(CampaignAttempt.campaign_id == campaign_id)
            .order_by(CampaignAttempt.id)
        )
        return list(rows)


async def test_reminders_enrol_bookings_after_start_and_withdraw_cancellations(
    database: Database, policy: BookingPolicy
) -> None:
    hospital = await make_hospital(database, policy, days=10)
    patient = await make_patient(database, policy, phones=("+12125550201",))
    campaigns = CampaignService(database, policy)
    enrolment = EnrolmentService(database, policy)
    campaign = await campaigns.create(
        "Reminders", "reminder", {"targets": {"department_id": hospital.cardiology.id}}, ADMIN
    )
    now = datetime.now(UTC)
    assert await campaigns.start(campaign.id, ADMIN, now=now) == 0
    # Booked after the start: the next sweep enrols it, the day before at the window's opening.
    slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=3))[-1]
    appointments = AppointmentService(database, policy)
    booked = await appointments.book(
        BookingRequest(patient.id, slot.slot_id, Channel.AGENT, Actor.system())
    )
    (change,) = await enrolment.sweep(now=now)
    assert (change.enrolled, change.withdrawn) == (1, 0)
    (attempt,) = await _attempts(database, campaign.id)
    assert (attempt.appointment_id, attempt.status) == (booked.id, AttemptStatus.SCHEDULED)
    eve = booked.local_date - timedelta(days=1)
    opening = datetime.combine(eve, datetime.min.time(), policy.timezone) + timedelta(hours=8)
    assert attempt.scheduled_for == max(now, opening)
    # Sweeping again (or from a second server) enrols nobody twice.
    assert await enrolment.sweep(now=now) == []
    assert len(await _attempts(database, campaign.id)) == 1
    # Cancelled: the reminder is withdrawn, never dialled.
    await appointments.cancel(
        booked.id, actor=Actor.system(), channel=Channel.AGENT, enforce_cutoff=False
    )
    (change,) = await enrolment.sweep(now=now)
    assert (change.enrolled, change.withdrawn) == (0, 1)
    (attempt,) = await _attempts(database, campaign.id)
    assert (attempt.status, attempt.outcome_detail) == (AttemptStatus.CANCELLED, WITHDRAWN)
    # A paused campaign takes nobody in.
    await campaigns.pause(campaign.id, ADMIN)
    other = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=1))[0]
    await appointments.book(
        BookingRequest(patient.id, other.slot_id, Channel.AGENT, Actor.system())
    )
    assert await enrolment.sweep(now=now) == []


async def test_discharged_and_flagged_patients_are_enrolled_as_they_come(
    database: Database, policy: BookingPolicy
) -> None:
    now = datetime(2030, 3, 5, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York
    patient = await make_patient(database, policy, phones=("+12125550202",))
    campaigns = CampaignService(database, policy)
    enrolment = EnrolmentService(database, policy)
    discharge = await campaigns.create(
        "After discharge", "post_discharge", {"followup_day": 2}, ADMIN
    )
    adherence = await campaigns.create(
        "Diabetes", "adherence", {"targets": {"condition_code": "E11"}}, ADMIN
    )
    assert await campaigns.start(discharge.id, ADMIN, now=now) == 0
    assert await campaigns.start(adherence.id, ADMIN, now=now) == 0
    async with database.transaction() as session:
        await session.execute(
            update(Patient).where(Patient.id == patient.id).values(discharged_at=now)
        )
        session.add(ChronicCondition(patient_id=patient.id, code="E11.9", name="Diabetes"))
    changes = {c.campaign_id: c.enrolled for c in await enrolment.sweep(now=now)}
    assert changes == {discharge.id: 1, adherence.id: 1}
    (followup,) = await _attempts(database, discharge.id)
    # Day 2 after the discharge, at the window's opening (08:00 New York).
    assert followup.scheduled_for == datetime(2030, 3, 7, 13, 0, tzinfo=UTC)
    (check,) = await _attempts(database, adherence.id)
    assert (check.patient_id, check.scheduled_for) == (patient.id, now)
    assert await enrolment.sweep(now=now + timedelta(minutes=1)) == []
