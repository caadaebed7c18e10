"""Booking rules on SQLite and PostgreSQL, including the races the database must settle."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hcrm_core.actors import Actor
from hcrm_core.errors import (
    AppointmentNotActive,
    AppointmentNotFound,
    BeyondHorizon,
    BookingInPast,
    CancellationTooLate,
    DuplicateDepartmentBooking,
    PatientInactive,
    PatientNotFound,
    SlotNotFound,
    SlotTaken,
    SlotUnavailable,
)
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AuditEvent,
    Channel,
    ExceptionKind,
    Patient,
    ScheduleException,
    utcnow,
)
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from tests.support.factories import Hospital, make_hospital, make_patient


@pytest.fixture
async def hospital(database, policy) -> Hospital:
    return await make_hospital(database, policy)


def _request(patient_id: int, slot_id: int, channel: Channel = Channel.AGENT) -> BookingRequest:
    return BookingRequest(
        patient_id=patient_id, slot_id=slot_id, channel=channel, actor=Actor.system()
    )


async def _active_count(hospital: Hospital, slot_id: int) -> int:
    async with hospital.database.session() as session:
        return await session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.slot_id == slot_id, Appointment.status == AppointmentStatus.BOOKED)
        )


async def test_book_commits_with_channel_code_and_audit(hospital, database, policy):
    patient = await make_patient(database, policy)
    slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=1))[0]
    service = AppointmentService(database, policy)

    appointment = await service.book(
        BookingRequest(
            patient_id=patient.id,
            slot_id=slot.slot_id,
            channel=Channel.IVR,
            actor=Actor.ivr("1700000000.42"),
            call_linkedid="1700000000.42",
        )
    )

    assert appointment.status is AppointmentStatus.BOOKED
    assert appointment.channel is Channel.IVR
    assert appointment.starts_at == slot.starts_at
    assert appointment.confirmation_code.isdigit() and len(appointment.confirmation_code) == 8
    assert appointment.booked_call_id == "1700000000.42"
    assert appointment.department.code == "CARD"
    async with database.session() as session:
        audit = (
            await session.scalars(select(AuditEvent).where(AuditEvent.entity == "appointment"))
        ).all()
    assert [(a.actor, a.entity_id, a.patient_id) for a in audit] == [
        ("ivr", str(appointment.id), patient.id)
    ]
    # The booked slot is no longer offered.
    offered = await hospital.free_slots(department_id=hospital.cardiology.id, limit=50)
    assert slot.slot_id not in {s.slot_id for s in offered}


async def test_fifty_concurrent_bookings_of_one_slot_give_exactly_one(hospital, database, policy):
    patients = [await make_patient(database, policy) for _ in range(50)]
    slot = (await hospital.free_slots(doctor_id=hospital.dr_heart.id, limit=1))[0]
    service = AppointmentService(database, policy)

    results = await asyncio.gather(
        *(service.book(_request(p.id, slot.slot_id)) for p in patients), return_exceptions=True
    )

    booked = [r for r in results if isinstance(r, Appointment)]
    taken = [r for r in results if isinstance(r, SlotTaken)]
    assert len(booked) == 1, results
    assert len(taken) == 49, [r for r in results if not isinstance(r, Appointment | SlotTaken)]
    assert all("booked by someone else" in str(e) for e in taken)
    assert await _active_count(hospital, slot.slot_id) == 1


async def test_cancel_then_concurrent_rebook_gives_one(hospital, database, policy):
    service = AppointmentService(database, policy)
    first = await make_patient(database, policy)
    slot = (
        await hospital.free_slots(
            doctor_id=hospital.dr_beat.id, limit=1, from_time=utcnow() + timedelta(days=3)
        )
    )[0]
    appointment = await service.book(_request(first.id, slot.slot_id))
    others = [await make_patient(database, policy) for _ in range(10)]

    # Two cancellations race: exactly one wins, the other is told it is already cancelled.
    cancels = await asyncio.gather(
        *(
            service.cancel(appointment.id, actor=Actor.system(), channel=Channel.AGENT)
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(c, Appointment) for c in cancels) == 1
    assert sum(isinstance(c, AppointmentNotActive) for c in cancels) == 1

    rebooks = await asyncio.gather(
        *(service.book(_request(p.id, slot.slot_id)) for p in others), return_exceptions=True
    )
    assert sum(isinstance(r, Appointment) for r in rebooks) == 1
    assert sum(isinstance(r, SlotTaken) for r in rebooks) == 9
    assert await _active_count(hospital, slot.slot_id) == 1
    cancelled = await service.get(appointment.id)
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.cancel_channel is Channel.AGENT


async def test_booking_in_the_past_is_refused(hospital, database, policy):
    patient = await make_patient(database, policy)
    slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=1))[0]
    with pytest.raises(BookingInPast, match="already passed"):
        await AppointmentService(database, policy).book(
            _request(patient.id, slot.slot_id), now=slot.starts_at + timedelta(minutes=1)
        )
    assert await _active_count(hospital, slot.slot_id) == 0


async def test_booking_beyond_the_horizon_is_refused(hospital, database, policy):
    patient = await make_patient(database, policy)
    slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=1))[0]
    too_early_now = slot.starts_at - timedelta(days=policy.horizon_days + 1)
    with pytest.raises(BeyondHorizon, match=f"{policy.horizon_days} days"):
        await AppointmentService(database, policy).book(
            _request(patient.id, slot.slot_id), now=too_early_now
        )


async def test_slot_on_leave_is_not_offered_or_bookable(hospital, database, policy):
    patient = await make_patient(database, policy)
    slot = (await hospital.free_slots(doctor_id=hospital.dr_skin.id, limit=1))[0]
    async with database.transaction() as session:
        session.add(
            ScheduleException(
                doctor_id=hospital.dr_skin.id,
                kind=ExceptionKind.LEAVE,
                reason="conference",
                starts_at=slot.starts_at - timedelta(hours=1),
                ends_at=slot.ends_at,
            )
        )
    day = slot.starts_at.astimezone(policy.timezone).date()
    await hospital.scheduling.expand_slots(day, day)
    offered = await hospital.free_slots(doctor_id=hospital.dr_skin.id, limit=20)
    assert slot.slot_id not in {s.slot_id for s in offered}
    with pytest.raises(SlotUnavailable, match="not available"):
        await AppointmentService(database, policy).book(_request(patient.id, slot.slot_id))


async def test_unknown_slot_and_patient_and_inactive_patient(hospital, database, policy):
    service = AppointmentService(database, policy)
    patient = await make_patient(database, policy)
    slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=1))[0]
    with pytest.raises(SlotNotFound):
        await service.book(_request(patient.id, 999_999))
    with pytest.raises(PatientNotFound):
        await service.book(_request(999_999, slot.slot_id))
    async with database.transaction() as session:
        (await session.get(Patient, patient.id)).active = False
    with pytest.raises(PatientInactive):
        await service.book(_request(patient.id, slot.slot_id))
    assert await _active_count(hospital, slot.slot_id) == 0


async def test_one_active_appointment_per_department_per_day(hospital, database, policy):
    service = AppointmentService(database, policy)
    patient = await make_patient(database, policy)
    slots = await hospital.free_slots(department_id=hospital.cardiology.id, limit=20)
    first = slots[0]
    same_day_other_doctor = next(
        s
        for s in slots
        if s.doctor_id != first.doctor_id
        and s.starts_at.astimezone(policy.timezone).date()
        == first.starts_at.astimezone(policy.timezone).date()
    )
    await service.book(_request(patient.id, first.slot_id))
    with pytest.raises(DuplicateDepartmentBooking, match="in this department"):
        await service.book(_request(patient.id, same_day_other_doctor.slot_id))
    # Another department on the same day is fine.
    derm = await hospital.free_slots(
        department_id=hospital.dermatology.id,
        from_time=first.starts_at - timedelta(hours=3),
        limit=1,
    )
    await service.book(_request(patient.id, derm[0].slot_id))


async def test_concurrent_same_day_bookings_in_one_department_give_one(hospital, database, policy):
    service = AppointmentService(database, policy)
    patient = await make_patient(database, policy)
    slots = await hospital.free_slots(doctor_id=hospital.dr_heart.id, limit=40)
    by_day: dict[object, list[Any]] = {}
    for slot in slots:
        by_day.setdefault(slot.starts_at.astimezone(policy.timezone).date(), []).append(slot)
    # The first day with three free slots (late in the day, today may have fewer left).
    same_day = next(day_slots for day_slots in by_day.values() if len(day_slots) >= 3)
    results = await asyncio.gather(
        *(service.book(_request(patient.id, s.slot_id)) for s in same_day),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Appointment) for r in results) == 1
    assert all(isinstance(r, Appointment | DuplicateDepartmentBooking) for r in results), results


async def test_cancellation_cutoff(hospital, database, policy):
    service = AppointmentService(database, policy)
    patient = await make_patient(database, policy)
    slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=1))[0]
    appointment = await service.book(_request(patient.id, slot.slot_id))
    late = slot.starts_at - timedelta(hours=policy.cancel_cutoff_hours - 1)
    with pytest.raises(CancellationTooLate, match=f"{policy.cancel_cutoff_hours} hours"):
        await service.cancel(appointment.id, actor=Actor.ivr(), channel=Channel.IVR, now=late)
    assert (await service.get(appointment.id)).status is AppointmentStatus.BOOKED
    # Staff may override the cut-off, but never cancel one that has started.
    with pytest.raises(CancellationTooLate, match="already started"):
        await service.cancel(
            appointment.id,
            actor=Actor.system(),
            channel=Channel.AGENT,
            enforce_cutoff=False,
            now=slot.starts_at,
        )
    done = await service.cancel(
        appointment.id, actor=Actor.system(), channel=Channel.AGENT, enforce_cutoff=False, now=late
    )
    assert done.status is AppointmentStatus.CANCELLED
    with pytest.raises(AppointmentNotActive):
        await service.cancel(appointment.id, actor=Actor.system(), channel=Channel.AGENT)
    with pytest.raises(AppointmentNotFound):
        await service.cancel(999_999, actor=Actor.system(), channel=Channel.AGENT)


async def test_reschedule_moves_atomically(hospital, database, policy):
    service = AppointmentService(database, policy)
    patient, other = await make_patient(database, policy), await make_patient(database, policy)
    slots = await hospital.free_slots(
        doctor_id=hospital.dr_heart.id, limit=40, from_time=utcnow() + timedelta(days=2)
    )
    original = await service.book(_request(patient.id, slots[0].slot_id))
    later = slots[-1]

    moved = await service.reschedule(
        original.id, later.slot_id, actor=Actor.system(), channel=Channel.AGENT
    )
    assert moved.slot_id == later.slot_id and moved.rescheduled_from_id == original.id
    assert (await service.get(original.id)).status is AppointmentStatus.CANCELLED

    # A reschedule onto a taken slot fails whole: the appointment keeps its time.
    taken = await service.book(_request(other.id, slots[5].slot_id))
    with pytest.raises(SlotTaken):
        await service.reschedule(
            moved.id, taken.slot_id, actor=Actor.system(), channel=Channel.AGENT
        )
    assert (await service.get(moved.id)).status is AppointmentStatus.BOOKED
    upcoming = await service.upcoming_for_patient(patient.id)
    assert [a.id for a in upcoming] == [moved.id]
