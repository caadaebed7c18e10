"""Departments, doctors, and the bookable slots expanded from their weekly schedules."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Select, and_, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.db import Database
from hcrm_core.errors import DepartmentNotFound, DoctorNotFound, ValidationFailed
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    Department,
    Doctor,
    ScheduleException,
    ScheduleTemplate,
    Slot,
    utcnow,
)
from hcrm_core.policy import BookingPolicy

MAX_FREE_SLOTS = 200


@dataclass(frozen=True, slots=True)
class FreeSlot:
    slot_id: int
    doctor_id: int
    doctor_name: str
    department_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class _Span:
    doctor_id: int | None
    starts_at: datetime
    ends_at: datetime


def _template_slots(
    template: ScheduleTemplate, day: date, policy: BookingPolicy
) -> Iterator[tuple[datetime, datetime]]:
    """The slots one template gives on one day, in UTC (local wall time -> UTC via the zone)."""
    if day.weekday() != template.weekday:
        return
    if template.valid_from and day < template.valid_from:
        return
    if template.valid_until and day > template.valid_until:
        return
    step = timedelta(minutes=template.slot_minutes)
    start = datetime.combine(day, template.start_time, tzinfo=policy.timezone)
    end = datetime.combine(day, template.end_time, tzinfo=policy.timezone)
    while start + step <= end:
        yield start.astimezone(UTC), (start + step).astimezone(UTC)
        start += step


def _blocked(doctor_id: int, start: datetime, end: datetime, spans: Sequence[_Span]) -> bool:
    return any(
        (span.doctor_id is None or span.doctor_id == doctor_id)
        and span.starts_at < end
        and start < span.ends_at
        for span in spans
    )


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
    def __init__(self, database: Database, policy: BookingPolicy) -> None:
        self._db = database
        self._policy = policy

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
            return await self._expand(session, first_day, last_day)

    async def _expand(self, session: AsyncSession, first_day: date, last_day: date) -> int:
        tz = self._policy.timezone
        window_start = datetime.combine(first_day, datetime.min.time(), tzinfo=tz)
        window_end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        doctors = list(
            await session.execute(
                select(Doctor.id, Doctor.department_id).where(Doctor.active.is_(True))
            )
        )
        templates = list(
            await session.scalars(
                select(ScheduleTemplate).where(
                    ScheduleTemplate.doctor_id.in_([d.id for d in doctors])
                )
            )
        )
        spans = [
            _Span(e.doctor_id, e.starts_at, e.ends_at)
            for e in await session.scalars(
                select(ScheduleException).where(
                    ScheduleException.starts_at < window_end,
                    ScheduleException.ends_at > window_start,
                )
            )
        ]
        existing = {
            (row.doctor_id, row.starts_at): (row.id, row.available)
            for row in await session.execute(
                select(Slot.id, Slot.doctor_id, Slot.starts_at, Slot.available).where(
                    Slot.starts_at >= window_start, Slot.starts_at < window_end
                )
            )
        }
        department_of = {d.id: d.department_id for d in doctors}
        new_rows: list[dict[str, object]] = []
        now_blocked: list[int] = []
        now_open: list[int] = []
        day = first_day
        while day <= last_day:
            for template in templates:
                for start, end in _template_slots(template, day, self._policy):
                    blocked = _blocked(template.doctor_id, start, end, spans)
                    found = existing.get((template.doctor_id, start))
                    if found is None:
                        if not blocked:
                            new_rows.append(
                                {
                                    "doctor_id": template.doctor_id,
                                    "department_id": department_of[template.doctor_id],
                                    "starts_at": start,
                                    "ends_at": end,
                                    "local_date": day,
                                    "available": True,
                                }
                            )
                    elif blocked and found[1]:
                        now_blocked.append(found[0])
                    elif not blocked and not found[1]:
                        now_open.append(found[0])
            day += timedelta(days=1)
        for chunk_start in range(0, len(new_rows), 2000):
            await session.execute(insert(Slot), new_rows[chunk_start : chunk_start + 2000])
        if now_blocked:
            await session.execute(
                update(Slot).where(Slot.id.in_(now_blocked)).values(available=False)
            )
        if now_open:
            await session.execute(update(Slot).where(Slot.id.in_(now_open)).values(available=True))
        return len(new_rows)

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
        now = now or utcnow()
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
