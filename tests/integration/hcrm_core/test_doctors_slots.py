"""Schedule changes move the bookable slots at once (the real slot keeper, same transaction)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from hcrm_core.actors import Actor
from hcrm_core.models import Channel, ExceptionKind, Role, Slot
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.doctors_admin import DoctorsAdmin, Editor
from hcrm_core.services.doctors_schedules import ExceptionFields, ScheduleAdmin, TemplateFields
from hcrm_core.services.slot_keeper import SlotKeeper
from tests.support.factories import make_hospital, make_patient

ADMIN = Editor(Actor.user(1, "ada"), Role.ADMIN)
SUPERVISOR = Editor(Actor.user(2, "sam"), Role.SUPERVISOR)


def _local_days(slots, policy) -> set:
    return {s.starts_at.astimezone(policy.timezone).date() for s in slots}


async def _book_first(hospital, database, policy, doctor_id: int) -> tuple[int, datetime]:
    slot = (await hospital.free_slots(doctor_id=doctor_id, limit=1))[0]
    patient = await make_patient(database, policy)
    booked = await AppointmentService(database, policy).book(
        BookingRequest(patient.id, slot.slot_id, channel=Channel.AGENT, actor=Actor.system())
    )
    return booked.id, slot.starts_at


async def test_a_new_session_is_bookable_and_a_removed_one_is_gone(database, policy):
    hospital = await make_hospital(database, policy, days=14)
    keeper = SlotKeeper(database, policy)
    week = ScheduleAdmin(database, keeper, policy)
    doctor_id = hospital.dr_skin.id
    saturday = TemplateFields(5, time(8), time(10), 30, location="Annex")
    added = await week.add_template(doctor_id, saturday, ADMIN)
    slots = await hospital.free_slots(doctor_id=doctor_id, limit=200)
    saturdays = [s for s in slots if s.starts_at.astimezone(policy.timezone).weekday() == 5]
    assert saturdays, "the new Saturday session gave no slot"
    assert {s.starts_at.astimezone(policy.timezone).time() for s in saturdays} == {
        time(8),
        time(8, 30),
        time(9),
        time(9, 30),
    }
    assert added.affected_appointments == []
    await week.delete_template(doctor_id, added.item.id, ADMIN)
    slots = await hospital.free_slots(doctor_id=doctor_id, limit=200)
    assert all(s.starts_at.astimezone(policy.timezone).weekday() != 5 for s in slots)


async def test_removing_a_session_with_a_booking_lists_it_and_keeps_it(database, policy):
    hospital = await make_hospital(database, policy, days=14)
    week = ScheduleAdmin(database, SlotKeeper(database, policy), policy)
    doctor_id = hospital.dr_heart.id
    appointment_id, starts_at = await _book_first(hospital, database, policy, doctor_id)
    weekday = starts_at.astimezone(policy.timezone).weekday()
    template = next(t for t in await week.templates(doctor_id) if t.weekday == weekday)
    removed = await week.delete_template(doctor_id, template.id, ADMIN)
    assert removed.affected_appointments == [appointment_id]
    async with database.session() as session:
        kept = await session.scalar(
            select(Slot.id).where(Slot.doctor_id == doctor_id, Slot.starts_at == starts_at)
        )
    assert kept is not None  # a booked slot is never deleted


async def test_leave_blocks_slots_and_lists_bookings_until_removed(database, policy):
    hospital = await make_hospital(database, policy, days=14)
    week = ScheduleAdmin(database, SlotKeeper(database, policy), policy)
    doctor_id = hospital.dr_beat.id
    appointment_id, starts_at = await _book_first(hospital, database, policy, doctor_id)
    day = starts_at.astimezone(policy.timezone).date()
    window = {day, day + timedelta(days=1)}

    async def free_in_window() -> set[int]:
        free = await hospital.free_slots(doctor_id=doctor_id, limit=200)
        return {s.slot_id for s in free if s.starts_at.astimezone(policy.timezone).date() in window}

    before = await free_in_window()
    leave = await week.add_exception(
        doctor_id, ExceptionFields(ExceptionKind.LEAVE, day, day + timedelta(days=1)), SUPERVISOR
    )
    assert leave.affected_appointments == [appointment_id]
    assert await free_in_window() == set()
    back = await week.delete_exception(doctor_id, leave.item.id, SUPERVISOR)
    assert back.affected_appointments == []
    assert await free_in_window() == before


async def test_an_extra_session_adds_slots_on_its_date(database, policy):
    hospital = await make_hospital(database, policy, days=14)
    week = ScheduleAdmin(database, SlotKeeper(database, policy), policy)
    doctor_id = hospital.dr_skin.id
    today = datetime.now(policy.timezone).date()
    sunday = today + timedelta(days=6 - today.weekday() + 7)
    extra = ExceptionFields(
        ExceptionKind.EXTRA_SESSION, sunday, None, time(13), time(15), slot_minutes=30
    )
    added = await week.add_exception(doctor_id, extra, SUPERVISOR)
    free = await hospital.free_slots(doctor_id=doctor_id, limit=200)
    on_sunday = sorted(
        s.starts_at.astimezone(policy.timezone).time()
        for s in free
        if s.starts_at.astimezone(policy.timezone).date() == sunday
    )
    assert on_sunday == [time(13), time(13, 30), time(14), time(14, 30)]
    await week.delete_exception(doctor_id, added.item.id, SUPERVISOR)
    free = await hospital.free_slots(doctor_id=doctor_id, limit=200)
    assert sunday not in _local_days(free, policy)


async def test_deactivating_a_doctor_lists_their_bookings(database, policy):
    hospital = await make_hospital(database, policy, days=14)
    doctors = DoctorsAdmin(database, SlotKeeper(database, policy))
    appointment_id, _ = await _book_first(hospital, database, policy, hospital.dr_skin.id)
    off = await doctors.set_doctor_active(hospital.dr_skin.id, False, ADMIN)
    assert off.affected_appointments == [appointment_id]
    assert await hospital.free_slots(department_id=hospital.dermatology.id, limit=5) == []
    on = await doctors.set_doctor_active(hospital.dr_skin.id, True, ADMIN)
    assert on.affected_appointments == []
    assert await hospital.free_slots(department_id=hospital.dermatology.id, limit=5)
