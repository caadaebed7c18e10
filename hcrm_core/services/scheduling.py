"""Departments, doctors, and the bookable slots expanded from their weekly schedules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.db import Database
from hcrm_core.errors import DepartmentNotFound, DoctorNotFound, ValidationFailed
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    Department,
    Doctor,
    Slot,
    utcnow,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services import slot_expansion

MAX_FREE_SLOTS = 200


@dataclass(frozen=True, slots=True)
class FreeSlot:
    slot_id: int
    doctor_id: int
    doctor_name: str
    department_id: int
    starts_at: datetime
    ends_at: datetime


def _free_slots_query(
    earliest: datetime,
    latest: datetime,
    *,
    inclusive: bool,
    department_id: int | None,
    doctor_id: int | None,
    limit: int,
) -> Select[int, int, int, datetime, datetime, str, str, str]:
    """Open slots of active doctors, with no booked appointment, soonest first."""
    taken = exists().where(
        and_(Appointment.slot_id == Slot.id, Appointment.status == AppointmentStatus.BOOKED)
    )
    # Plain columns, not entities: this runs at every step of a booking call, and loading
    # ORM objects (identity map, state) costs several times the query itself.
    query = (
        select(
            Slot.id,
            Slot.doctor_id,
            Slot.department_id,
            Slot.starts_at,
            Slot.ends_at,
            Doctor.title,
            Doctor.given_name,
            Doctor.family_name,
        )
        .join(Doctor, Doctor.id == Slot.doctor_id)
        .where(
            Slot.available.is_(True),
            Doctor.active.is_(True),
            Slot.starts_at >= earliest if inclusive else Slot.starts_at > earliest,
            Slot.starts_at <= latest,
            ~taken,
        )
        .order_by(Slot.starts_at, Slot.doctor_id)
        .limit(limit)
    )
    if doctor_id is not None:
        query = query.where(Slot.doctor_id == doctor_id)
    if department_id is not None:
        query = query.where(Slot.department_id == department_id)
    return query


class SchedulingService:
    def __init__(
        self,
        database: Database,
        policy: BookingPolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._policy = policy
        # "Now" when a caller gives none (a test moves it over months: tests/.../slot_keeper).
        self._clock = clock

    async def list_departments(self, *, active_only: bool = True) -> list[Department]:
        async with self._db.session() as session:
            query = select(Department).order_by(Department.menu_order, Department.name)
            if active_only:
                query = query.where(Department.active.is_(True))
            return list(await session.scalars(query))

    async def list_doctors(
        self, department_id: int | None = None, *, active_only: bool = True
    ) -> list[Doctor]:
        async with self._db.session() as session:
            query = select(Doctor).order_by(Doctor.family_name, Doctor.given_name, Doctor.id)
            if department_id is not None:
                if await session.get(Department, department_id) is None:
                    raise DepartmentNotFound(f"no department with id {department_id}")
                query = query.where(Doctor.department_id == department_id)
            if active_only:
                query = query.where(Doctor.active.is_(True))
            return list(await session.scalars(query))

    async def expand_slots(self, first_day: date, last_day: date) -> int:
        """Create the slots of every active doctor's templates for the days given.

        Idempotent: existing slots are kept (their bookings with them); slots that now fall in
        a leave or holiday are marked unavailable, and come back if the exception is removed.
        Returns the number of slots created.
        """
        if last_day < first_day:
            raise ValidationFailed("last_day", "must not be before first_day")
        async with self._db.transaction() as session:
            return await slot_expansion.expand(session, self._policy, first_day, last_day)

    async def next_free_slots(
        self,
        *,
        department_id: int | None = None,
        doctor_id: int | None = None,
        from_time: datetime | None = None,
        limit: int = 5,
        now: datetime | None = None,
    ) -> list[FreeSlot]:
        """The earliest bookable slots, sorted by start then doctor.

        Bookable means: open, in the future (past the minimum lead time), within the booking
        horizon, the doctor active, and no active appointment on it.
        """
        if department_id is None and doctor_id is None:
            raise ValidationFailed("department_id", "give a department or a doctor")
        if not 1 <= limit <= MAX_FREE_SLOTS:
            raise ValidationFailed("limit", f"must be between 1 and {MAX_FREE_SLOTS}")
        now = now or self._clock()
        earliest = now + timedelta(minutes=self._policy.min_lead_minutes)
        if from_time is not None:
            if from_time.tzinfo is None:
                raise ValidationFailed("from_time", "needs a time zone")
            earliest = max(earliest, from_time)
        latest = now + timedelta(days=self._policy.horizon_days)
        query = _free_slots_query(
            earliest,
            latest,
            inclusive=from_time is not None,
            department_id=department_id,
            doctor_id=doctor_id,
            limit=limit,
        )
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
            if not rows:
                # Only an empty answer can hide a wrong id: check them then, not on every call.
                await self._check_exists(session, department_id, doctor_id)
        return [
            FreeSlot(
                slot_id=row.id,
                doctor_id=row.doctor_id,
                doctor_name=f"{row.title} {row.given_name} {row.family_name}".strip(),
                department_id=row.department_id,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
            )
            for row in rows
        ]

    @staticmethod
    async def _check_exists(
        session: AsyncSession, department_id: int | None, doctor_id: int | None
    ) -> None:
        if doctor_id is not None and await session.get(Doctor, doctor_id) is None:
            raise DoctorNotFound(f"no doctor with id {doctor_id}")
        if department_id is not None and await session.get(Department, department_id) is None:
            raise DepartmentNotFound(f"no department with id {department_id}")
