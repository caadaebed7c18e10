"""A clock a test moves by hand, and a hospital whose slots the slot keeper makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    Channel,
    ExceptionKind,
    ScheduleException,
    Slot,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.slot_keeper import SlotKeeper
from tests.support.console import ConsoleWorld
from tests.support.factories import Hospital, make_hospital


def _a_monday_ahead() -> datetime:
    """12:00 UTC on a Monday at least a week ahead: 07:00 or 08:00 in New York (the tests'
    zone), before the day's clinics, and after the factory's own slots (made for today)."""
    day = datetime.now(UTC).date() + timedelta(days=7)
    day += timedelta(days=(7 - day.weekday()) % 7)
    return datetime.combine(day, time(12), tzinfo=UTC)


START = _a_monday_ahead()


class Clock:
    """``clock()`` is ``at``; tests move ``at``."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@dataclass
class KeptHospital:
    hospital: Hospital
    clock: Clock
    keeper: SlotKeeper
    appointments: AppointmentService

    @property
    def database(self) -> Database:
        return self.hospital.database

    async def book(self, patient_id: int, slot_id: int) -> int:
        request = BookingRequest(patient_id, slot_id, Channel.AGENT, Actor.system())
        return (await self.appointments.book(request)).id

    async def slot_at(self, doctor_id: int, starts_at: datetime) -> Slot | None:
        async with self.database.session() as session:
            found: Slot | None = await session.scalar(
                select(Slot).where(Slot.doctor_id == doctor_id, Slot.starts_at == starts_at)
            )
            return found


async def kept_hospital(
    database: Database, policy: BookingPolicy, clock: Clock | None = None
) -> KeptHospital:
    """The factories' hospital (weekday 09:00-12:00 clinics, 30-minute slots) with its slots
    from ``clock`` on made by a :class:`SlotKeeper` (the factory's own slots lie in the past)."""
    clock = clock or Clock()
    hospital = await make_hospital(database, policy, days=0)
    keeper = SlotKeeper(database, policy, clock=clock)
    await keeper.extend()
    return KeptHospital(hospital, clock, keeper, AppointmentService(database, policy, clock=clock))


async def grace_on_leave(world: ConsoleWorld) -> Appointment:
    """Grace's booked appointment, with its doctor put on leave over it."""
    database = world.server.database
    async with database.session() as session:
        appointment = await session.scalar(
            select(Appointment).where(
                Appointment.patient_id == world.grace.id,
                Appointment.status == AppointmentStatus.BOOKED,
            )
        )
    assert appointment is not None
    keeper = SlotKeeper(database, world.server.settings.booking_policy())
    async with database.transaction() as session:
        session.add(
            ScheduleException(
                doctor_id=appointment.doctor_id,
                kind=ExceptionKind.LEAVE,
                starts_at=appointment.starts_at - timedelta(minutes=30),
                ends_at=appointment.ends_at,
            )
        )
        await session.flush()
        assert appointment.id in await keeper.refresh_doctor(session, appointment.doctor_id)
    return appointment
