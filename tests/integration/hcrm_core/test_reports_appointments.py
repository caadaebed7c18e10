"""Appointment figures against hand-computed values, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    Channel,
)
from hcrm_core.services.reports_appointments import appointment_report
from hcrm_core.services.reports_period import parse_period
from tests.support.factories import make_hospital, make_patient, utc

NY = ZoneInfo("America/New_York")


async def test_bookings_cancellations_and_no_shows_reminded_or_not(database, policy):
    hospital = await make_hospital(database, policy, days=7)
    patient = await make_patient(database, policy)
    slots = await hospital.free_slots(department_id=hospital.cardiology.id, limit=8)
    old = utc(2026, 10, 20, 12)
    plan = [
        # (booked at, channel, starts at, status, cancelled at, cancel channel, reminder)
        (
            utc(2026, 11, 1, 15),
            Channel.IVR,
            utc(2026, 12, 1, 15),
            AppointmentStatus.BOOKED,
            None,
            None,
            None,
        ),
        (
            utc(2026, 11, 1, 15, 10),
            Channel.AGENT,
            utc(2026, 12, 2, 15),
            AppointmentStatus.CANCELLED,
            utc(2026, 11, 1, 16),
            Channel.IVR,
            None,
        ),
        (
            old,
            Channel.AGENT,
            utc(2026, 11, 1, 14),
            AppointmentStatus.COMPLETED,
            None,
            None,
            AttemptStatus.COMPLETED,
        ),
        (
            old,
            Channel.IVR,
            utc(2026, 11, 1, 15),
            AppointmentStatus.NO_SHOW,
            None,
            None,
            AttemptStatus.ANSWERED,
        ),
        (
            old,
            Channel.WEB,
            utc(2026, 11, 1, 16),
            AppointmentStatus.NO_SHOW,
            None,
            None,
            AttemptStatus.NO_ANSWER,
        ),  # a reminder that never reached the patient
        (old, Channel.AGENT, utc(2026, 11, 1, 17), AppointmentStatus.COMPLETED, None, None, None),
        (old, Channel.AGENT, utc(2026, 11, 1, 18), AppointmentStatus.COMPLETED, None, None, None),
        (old, Channel.AGENT, utc(2026, 11, 2, 12), AppointmentStatus.NO_SHOW, None, None, None),
    ]
    async with database.transaction() as session:
        campaign = Campaign(name="Reminders", kind=CampaignKind.REMINDER)
        session.add(campaign)
        await session.flush()
        for n, (booked, channel, starts, status, cancelled, cancel_channel, reminder) in enumerate(
            plan
        ):
            slot = slots[n]
            appointment = Appointment(
                patient_id=patient.id,
                doctor_id=slot.doctor_id,
                department_id=hospital.cardiology.id,
                slot_id=slot.slot_id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                local_date=starts.astimezone(NY).date(),
                status=status,
                channel=channel,
                confirmation_code=f"R{n:05d}",
                booked_at=booked,
                cancelled_at=cancelled,
                cancel_channel=cancel_channel,
            )
            session.add(appointment)
            await session.flush()
            if reminder is not None:
                session.add(
                    CampaignAttempt(
                        campaign_id=campaign.id,
                        patient_id=patient.id,
                        appointment_id=appointment.id,
                        phone_e164="+12125550100",
                        status=reminder,
                        scheduled_for=starts - timedelta(days=1),
                    )
                )
    period = parse_period("2026-11-01", "2026-11-01", "hour", NY)
    report = await appointment_report(database, period)
    total = report.total.as_dict()
    assert (total["booked"], total["booked_ivr"], total["booked_agent"]) == (2, 1, 1)
    assert (total["cancelled"], total["cancelled_ivr"]) == (1, 1)
    assert (total["outcomes"], total["no_shows"], total["no_show_percent"]) == (5, 2, 40.0)
    assert (total["reminded_outcomes"], total["reminded_no_show_percent"]) == (2, 50.0)
    assert (total["not_reminded_outcomes"], total["not_reminded_no_show_percent"]) == (3, 33.3)
    # 15:00 UTC is 10:00 EST: the 11th hour of the 25-hour day (00:00 EDT first).
    assert report.per_bucket[11].as_dict()["booked_ivr"] == 1
    empty = await appointment_report(database, parse_period("2026-06-01", "2026-06-01", "day", NY))
    assert empty.total.as_dict()["no_show_percent"] is None
