"""Keeping the bookable slots: the horizon ahead, schedule changes, and the bookings they hit.

The server runs :meth:`SlotKeeper.extend` at start-up and every night, so ``horizon_days`` of
slots always lie ahead (``callcenter slots extend`` does it by hand). A change to a doctor's
templates, exceptions or active flag calls :meth:`SlotKeeper.refresh_doctor` in the same
transaction: future *free* slots follow the new schedule, booked ones are never touched. A
booked appointment the schedule no longer supports is a conflict, listed for the supervisor
(:meth:`SlotKeeper.conflicts`), who moves or cancels it; the patient then gets a follow-up: a
call in the ``appointment-changed`` campaign, or a task when they may not be called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import (
    AppointmentNotActive,
    Conflict,
    DoctorNotFound,
    DuplicateDepartmentBooking,
    SlotTaken,
    ValidationFailed,
)
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AuditAction,
    Channel,
    Department,
    Doctor,
    Patient,
    Slot,
    utcnow,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services import slot_expansion
from hcrm_core.services.appointments import AppointmentService, translate_integrity
from hcrm_core.services.audit import add_audit
from hcrm_core.services.leadership import Fence
from hcrm_core.services.scheduling import SchedulingService
from hcrm_core.services.slot_followups import follow_up

_LOG = logging.getLogger(__name__)

MoveScope = Literal["doctor", "department"]
MOVE_SCOPES: tuple[MoveScope, ...] = ("doctor", "department")
# Hospital-local time of the nightly run: after the day's last clinic, before the first call.
NIGHTLY_AT = time(2, 0)
# How many next free times a one-click move tries when others take them first.
_MOVE_CANDIDATES = 5
_CANCEL_REASON_MAX = 200


class ConflictReason(StrEnum):
    """Why a booked appointment no longer fits its doctor's schedule."""

    EXCEPTION = "exception"  # the slot falls in a leave, sick day or holiday
    NO_TEMPLATE = "no_template"  # no current weekly template produces the slot any more
    DOCTOR_INACTIVE = "doctor_inactive"


class NoFreeTime(Conflict):
    code = "no_free_time"


@dataclass(frozen=True, slots=True)
class ScheduleConflict:
    """A future booked appointment the schedule no longer supports (for the supervisor)."""

    appointment_id: int
    patient_id: int
    patient_name: str
    doctor_id: int
    doctor_name: str
    department_id: int
    department_name: str
    starts_at: datetime
    reason: ConflictReason


def next_nightly_run(now: datetime, timezone: ZoneInfo, at: time = NIGHTLY_AT) -> datetime:
    """The first moment after ``now`` when the hospital's clock reads ``at``, in UTC.

    On the spring-forward night a 02:00 that does not exist becomes 03:00 local; on the
    fall-back night the first of the two 02:00s is taken.
    """
    now = now.astimezone(UTC)
    day = now.astimezone(timezone).date()
    while True:
        candidate = datetime.combine(day, at, tzinfo=timezone).astimezone(UTC)
        # Round-trip through UTC: a wall time in the gap comes back an hour later.
        candidate = candidate.astimezone(timezone).astimezone(UTC)
        if candidate > now:
            return candidate
        day += timedelta(days=1)


def _doctor_name(title: str, given: str, family: str) -> str:
    return f"{title} {given} {family}".strip()


class SlotKeeper:
    """Generates slots ahead, follows schedule changes, and resolves the bookings they hit."""

    def __init__(
        self,
        database: Database,
        policy: BookingPolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._policy = policy
        self._clock = clock
        self._appointments = AppointmentService(database, policy, clock=clock)
        self._scheduling = SchedulingService(database, policy, clock=clock)

    @property
    def policy(self) -> BookingPolicy:
        return self._policy

    def now(self) -> datetime:
        return self._clock()

    def today(self) -> date:
        """The hospital-local date of the clock."""
        return self._clock().astimezone(self._policy.timezone).date()

    def default_until(self) -> date:
        """The last day the horizon covers: today plus ``horizon_days``."""
        return self.today() + timedelta(days=self._policy.horizon_days)

    # -- the horizon -------------------------------------------------------------------------

    async def extend(self, until: date | None = None, *, fence: Fence | None = None) -> int:
        """Create the missing slots of every active doctor from today to ``until``.

        Today is the hospital-local date of the clock; ``until`` defaults to today plus
        ``policy.horizon_days``. Idempotent: a second run creates nothing (the unique
        constraint on (doctor_id, starts_at) backs it). Returns the number of slots created.
        """
        today = self.today()
        last = until or self.default_until()
        if last < today:
            raise ValidationFailed("until", f"must not be before today ({today.isoformat()})")
        async with self._db.transaction() as session:
            if fence is not None:  # the nightly run is the leader's (issue 18)
                await fence.check(session)
            created = await slot_expansion.expand(
                session, self._policy, today, last, not_before=self._clock()
            )
        _LOG.info("slots extended to %s: %d created", last.isoformat(), created)
        return created

    # -- schedule changes --------------------------------------------------------------------

    async def refresh_doctor(self, session: AsyncSession, doctor_id: int) -> list[int]:
        """Bring one doctor's future slots in line with their templates, exceptions and flag.

        Runs inside the caller's transaction (``session``), after the doctor's templates,
        exceptions or active flag changed: deletes future free slots no template produces any
        more (slots any appointment row points to are kept, unavailable), creates missing ones
        up to the horizon, marks slots in exceptions unavailable (and available again when the
        exception is gone). Booked slots are never deleted or moved. Returns the ids of the
        doctor's future booked appointments now in conflict (see ``conflicts``).
        """
        now = self._clock()
        today = self.today()
        furthest = await session.scalar(
            select(func.max(Slot.local_date)).where(Slot.doctor_id == doctor_id)
        )
        last = max(today + timedelta(days=self._policy.horizon_days), furthest or today)
        sources = await slot_expansion.load_sources(session, self._policy, today, last, [doctor_id])
        if doctor_id not in sources.doctor_ids:
            raise DoctorNotFound(f"no doctor with id {doctor_id}")
        wanted = {w.starts_at: w for w in sources.wanted(today, last) if w.starts_at > now}
        booked = exists().where(
            Appointment.slot_id == Slot.id, Appointment.status == AppointmentStatus.BOOKED
        )
        referenced = exists().where(Appointment.slot_id == Slot.id)
        rows = await session.execute(
            select(
                Slot.id,
                Slot.starts_at,
                Slot.ends_at,
                Slot.available,
                booked.label("booked"),
                referenced.label("referenced"),
            ).where(Slot.doctor_id == doctor_id, Slot.starts_at > now)
        )
        gone: list[int] = []
        open_now: list[int] = []
        closed_now: list[int] = []
        for row in rows:
            slot = wanted.pop(row.starts_at, None)
            if slot is None:
                if row.booked:
                    continue  # a conflict: listed, never touched
                if row.referenced:
                    # Cancelled appointments still point at it: kept, no longer bookable.
                    if row.available:
                        closed_now.append(row.id)
                else:
                    gone.append(row.id)
                continue
            if slot.ends_at != row.ends_at:
                if row.booked:
                    continue
                await session.execute(
                    update(Slot).where(Slot.id == row.id).values(ends_at=slot.ends_at)
                )
            blocked = sources.blocked(doctor_id, slot.starts_at, slot.ends_at)
            if blocked and row.available:
                closed_now.append(row.id)
            elif not blocked and not row.available:
                open_now.append(row.id)
        for first in range(0, len(gone), slot_expansion.INSERT_BATCH):
            chunk = gone[first : first + slot_expansion.INSERT_BATCH]
            await session.execute(delete(Slot).where(Slot.id.in_(chunk)))
        await slot_expansion.set_available(session, closed_now, False)
        await slot_expansion.set_available(session, open_now, True)
        department_id = sources.department_of(doctor_id)
        # A doctor moved to another department takes their future slots along (department
        # searches look at the slot's department; a booking keeps its own).
        await session.execute(
            update(Slot)
            .where(
                Slot.doctor_id == doctor_id,
                Slot.starts_at > now,
                Slot.department_id != department_id,
            )
            .values(department_id=department_id)
        )
        new_rows = [
            slot_expansion.slot_row(slot, department_id)
            for slot in wanted.values()
            if not sources.blocked(doctor_id, slot.starts_at, slot.ends_at)
        ]
        await slot_expansion.insert_slots(session, new_rows)
        _LOG.info(
            "doctor=%s slots refreshed: %d created, %d removed, %d closed, %d reopened",
            doctor_id,
            len(new_rows),
            len(gone),
            len(closed_now),
            len(open_now),
        )
        found = await self._conflicts_in(session, doctor_id=doctor_id)
        return [conflict.appointment_id for conflict in found]

    async def conflicts(self) -> list[ScheduleConflict]:
        """Future booked appointments in conflict with the schedule, soonest first."""
        async with self._db.session() as session:
            return await self._conflicts_in(session)

    async def _conflicts_in(
        self, session: AsyncSession, *, doctor_id: int | None = None
    ) -> list[ScheduleConflict]:
        now = self._clock()
        query = (
            select(
                Appointment.id,
                Appointment.patient_id,
                Appointment.doctor_id,
                Appointment.department_id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.local_date,
                Patient.given_name,
                Patient.family_name,
                Doctor.title,
                Doctor.given_name.label("doctor_given"),
                Doctor.family_name.label("doctor_family"),
                Department.name.label("department_name"),
            )
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(Doctor, Doctor.id == Appointment.doctor_id)
            .join(Department, Department.id == Appointment.department_id)
            .where(Appointment.status == AppointmentStatus.BOOKED, Appointment.starts_at > now)
            .order_by(Appointment.starts_at, Appointment.id)
        )
        if doctor_id is not None:
            query = query.where(Appointment.doctor_id == doctor_id)
        rows = (await session.execute(query)).all()
        if not rows:
            return []
        first = min(row.local_date for row in rows)
        last = max(row.local_date for row in rows)
        doctor_ids = sorted({row.doctor_id for row in rows})
        sources = await slot_expansion.load_sources(session, self._policy, first, last, doctor_ids)
        result: list[ScheduleConflict] = []
        for row in rows:
            if not sources.active(row.doctor_id):
                reason = ConflictReason.DOCTOR_INACTIVE
            elif sources.blocked(row.doctor_id, row.starts_at, row.ends_at):
                reason = ConflictReason.EXCEPTION
            elif not sources.gives(row.doctor_id, row.starts_at, row.ends_at):
                reason = ConflictReason.NO_TEMPLATE
            else:
                continue
            result.append(
                ScheduleConflict(
                    appointment_id=row.id,
                    patient_id=row.patient_id,
                    patient_name=f"{row.given_name} {row.family_name}".strip(),
                    doctor_id=row.doctor_id,
                    doctor_name=_doctor_name(row.title, row.doctor_given, row.doctor_family),
                    department_id=row.department_id,
                    department_name=row.department_name,
                    starts_at=row.starts_at,
                    reason=reason,
                )
            )
        return result

    # -- resolving conflicts -----------------------------------------------------------------

    async def move(
        self,
        appointment_id: int,
        *,
        to_slot_id: int | None = None,
        scope: MoveScope = "doctor",
        actor: Actor,
    ) -> Appointment:
        """Move a booked appointment to ``to_slot_id``, or to the next free time of the same
        doctor (or department, by ``scope``), with the booking rules of AppointmentService
        (no cancellation cut-off: the hospital moves it).

        The patient gets a follow-up (a call in the ``appointment-changed`` campaign, or a
        task without phone consent); audited; one transaction. Returns the new appointment.
        Raises :class:`NoFreeTime` when no free time is left in the scope.
        """
        if scope not in MOVE_SCOPES:
            raise ValidationFailed("scope", "use doctor or department")
        old = await self._appointments.get(appointment_id)
        if old.status != AppointmentStatus.BOOKED:
            raise AppointmentNotActive(f"this appointment is already {old.status.value}")
        if to_slot_id is not None:
            return await self._move_to(old, to_slot_id, actor)
        free = await self._scheduling.next_free_slots(
            doctor_id=old.doctor_id if scope == "doctor" else None,
            department_id=old.department_id if scope == "department" else None,
            limit=_MOVE_CANDIDATES + 1,
            now=self._clock(),
        )
        candidates = [slot.slot_id for slot in free if slot.slot_id != old.slot_id]
        for slot_id in candidates[:_MOVE_CANDIDATES]:
            try:
                return await self._move_to(old, slot_id, actor)
            except (SlotTaken, DuplicateDepartmentBooking):
                continue  # taken a moment ago, or the patient's day there is full: next one
        where = "this doctor" if scope == "doctor" else "this department"
        raise NoFreeTime(f"{where} has no free time left to move this appointment to")

    async def _move_to(self, old: Appointment, slot_id: int, actor: Actor) -> Appointment:
        now = self._clock()
        try:
            async with self._db.transaction() as session:
                new = await self._appointments.reschedule_in(
                    session,
                    old.id,
                    slot_id,
                    actor=actor,
                    channel=Channel.AGENT,
                    enforce_cutoff=False,
                    now=now,
                )
                tz = self._policy.timezone
                note = (
                    f"Appointment {old.starts_at.astimezone(tz):%d %b %Y %H:%M} moved by the "
                    f"hospital to {new.starts_at.astimezone(tz):%d %b %Y %H:%M} with "
                    f"{new.doctor.display_name}: tell the patient"
                )
                followup = await follow_up(
                    session, tz, new.patient_id, new.id, note, now, earlier=old.id
                )
                add_audit(
                    session,
                    actor,
                    AuditAction.UPDATE,
                    "appointment",
                    old.id,
                    patient_id=old.patient_id,
                    detail={
                        "schedule_change": "moved",
                        "to_appointment": new.id,
                        "to_slot": slot_id,
                        "followup": followup,
                    },
                )
        except IntegrityError as exc:
            domain = translate_integrity(exc)
            if domain is None:
                raise
            raise domain from exc
        _LOG.info("appointment=%s moved to appointment=%s (%s)", old.id, new.id, followup)
        return new

    async def cancel(self, appointment_id: int, *, reason: str, actor: Actor) -> Appointment:
        """Cancel a booked appointment for a schedule change (no cut-off applies); the patient
        gets a follow-up as for ``move``; audited; one transaction."""
        reason = reason.strip()
        if not 0 < len(reason) <= _CANCEL_REASON_MAX:
            raise ValidationFailed("reason", f"say why, in 1 to {_CANCEL_REASON_MAX} characters")
        now = self._clock()
        async with self._db.transaction() as session:
            cancelled = await self._appointments.cancel_in(
                session,
                appointment_id,
                actor=actor,
                channel=Channel.AGENT,
                reason=reason,
                enforce_cutoff=False,
                now=now,
            )
            local = cancelled.starts_at.astimezone(self._policy.timezone)
            note = f"Appointment {local:%d %b %Y %H:%M} cancelled by the hospital ({reason})"
            followup = await follow_up(
                session, self._policy.timezone, cancelled.patient_id, cancelled.id, note[:200], now
            )
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "appointment",
                appointment_id,
                patient_id=cancelled.patient_id,
                detail={"schedule_change": "cancelled", "followup": followup},
            )
        _LOG.info("appointment=%s cancelled for a schedule change (%s)", appointment_id, followup)
        return cancelled
