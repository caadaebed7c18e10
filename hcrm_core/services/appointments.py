"""Booking, cancelling and rescheduling appointments.

The database has the last word on races: a partial unique index allows one active appointment
per slot, another one per (patient, department, local day). The service checks first so the
common case gets a precise message, and translates the index violations for the rare case where
two bookings race past the checks. Callers never see a raw database error.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import (
    AppointmentNotActive,
    AppointmentNotFound,
    BeyondHorizon,
    BookingInPast,
    CancellationTooLate,
    DomainError,
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
    AuditAction,
    AuditEvent,
    Channel,
    Department,
    Doctor,
    Patient,
    Slot,
    utcnow,
)
from hcrm_core.models.appointments import ACTIVE_SLOT_INDEX, ONE_PER_DEPARTMENT_DAY_INDEX
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.audit import add_audit

CONFIRMATION_DIGITS = 8
_APPOINTMENTS: Table = Appointment.__table__  # type: ignore[assignment]
_AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]
_SLOT_COLUMNS = (
    Slot.starts_at,
    Slot.ends_at,
    Slot.local_date,
    Slot.available,
    Slot.doctor_id,
    Slot.department_id,
)
_DOCTOR_COLUMNS_RAW = tuple(Doctor.__table__.columns)
_DEPARTMENT_COLUMNS_RAW = tuple(Department.__table__.columns)
_DOCTOR_COLUMNS = tuple(c.label(f"dr_{c.key}") for c in _DOCTOR_COLUMNS_RAW)
_DEPARTMENT_COLUMNS = tuple(c.label(f"dept_{c.key}") for c in _DEPARTMENT_COLUMNS_RAW)
# Built once: constructing these per booking cost more CPU than executing them.
_INSERT_APPOINTMENT = insert(_APPOINTMENTS).returning(_APPOINTMENTS.c.id)
_INSERT_AUDIT = insert(_AUDIT)
_CODE_RETRIES = 3


def new_confirmation_code() -> str:
    """Digits only: it is read back by the IVR and typed on keypads."""
    return "".join(secrets.choice("0123456789") for _ in range(CONFIRMATION_DIGITS))


def translate_integrity(exc: IntegrityError) -> DomainError | None:
    """The booking race an index violation stands for (SlotTaken...), None for any other."""
    text = str(exc.orig)
    if ACTIVE_SLOT_INDEX in text or "appointments.slot_id" in text:
        return SlotTaken("that time has just been booked by someone else; please pick another")
    if ONE_PER_DEPARTMENT_DAY_INDEX in text or "appointments.local_date" in text:
        return DuplicateDepartmentBooking(
            "the patient already has an appointment in this department on that day"
        )
    return None


def _is_code_collision(exc: IntegrityError) -> bool:
    return "confirmation_code" in str(exc.orig)


def upcoming_query(patient_id: int, now: datetime, limit: int) -> Select[Appointment]:
    """The patient's booked appointments still to come, soonest first, with their doctor and
    department (many-to-one: joined into the same statement, not two more)."""
    return (
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > now,
        )
        .options(joinedload(Appointment.doctor), joinedload(Appointment.department))
        .order_by(Appointment.starts_at)
        .limit(limit)
    )


@dataclass(frozen=True, slots=True)
class BookingRequest:
    patient_id: int
    slot_id: int
    channel: Channel
    actor: Actor
    reason: str | None = None
    call_linkedid: str | None = None


class AppointmentService:
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

    # -- queries -----------------------------------------------------------------------------

    async def get(self, appointment_id: int) -> Appointment:
        async with self._db.session() as session:
            appointment = await session.get(
                Appointment,
                appointment_id,
                options=(selectinload(Appointment.doctor), selectinload(Appointment.department)),
            )
            if appointment is None:
                raise AppointmentNotFound(f"no appointment with id {appointment_id}")
            return appointment

    async def upcoming_for_patient(
        self, patient_id: int, *, now: datetime | None = None, limit: int = 20
    ) -> list[Appointment]:
        async with self._db.session() as session:
            rows = await session.scalars(upcoming_query(patient_id, now or self._clock(), limit))
            return list(rows)

    # -- rules -------------------------------------------------------------------------------

    def _check_bookable(self, starts_at: datetime, available: bool, now: datetime) -> None:
        if starts_at <= now + timedelta(minutes=self._policy.min_lead_minutes):
            raise BookingInPast("that time has already passed; please pick a later one")
        if starts_at > now + timedelta(days=self._policy.horizon_days):
            raise BeyondHorizon(
                f"appointments can be booked at most {self._policy.horizon_days} days ahead"
            )
        if not available:
            raise SlotUnavailable("the doctor is not available at that time")

    def cancellation_deadline(self, appointment: Appointment) -> datetime:
        return appointment.starts_at - timedelta(hours=self._policy.cancel_cutoff_hours)

    # -- use cases ---------------------------------------------------------------------------

    async def book(self, request: BookingRequest, *, now: datetime | None = None) -> Appointment:
        """Book a slot for a patient; raises SlotTaken and friends, never a database error."""
        for attempt in range(_CODE_RETRIES):
            try:
                async with self._db.transaction() as session:
                    return await self._book_in(session, request, now or self._clock())
            except IntegrityError as exc:
                domain = translate_integrity(exc)
                if domain is not None:
                    raise domain from exc
                if _is_code_collision(exc) and attempt + 1 < _CODE_RETRIES:
                    continue
                raise
        raise AssertionError("unreachable")

    async def _book_in(
        self,
        session: AsyncSession,
        request: BookingRequest,
        now: datetime,
        rescheduled_from: int | None = None,
    ) -> Appointment:
        # Booking is the hot path (IVR, agents and campaigns at once), so it is three Core
        # statements on the session's connection: one read, two inserts. The ORM's unit of work
        # and a read-back would cost more client CPU per booking than the database work does.
        connection = await session.connection()
        found = (
            await connection.execute(
                select(
                    *_SLOT_COLUMNS,
                    *_DOCTOR_COLUMNS,
                    *_DEPARTMENT_COLUMNS,
                    Patient.id.label("patient_id"),
                    Patient.active.label("patient_active"),
                )
                .select_from(Slot)
                .join(Doctor, Doctor.id == Slot.doctor_id)
                .join(Department, Department.id == Slot.department_id)
                .outerjoin(Patient, Patient.id == request.patient_id)
                .where(Slot.id == request.slot_id)
            )
        ).first()
        if found is None:
            patient_known = await connection.scalar(
                select(Patient.id).where(Patient.id == request.patient_id)
            )
            if patient_known is None:
                raise PatientNotFound(f"no patient with id {request.patient_id}")
            raise SlotNotFound(f"no bookable time with id {request.slot_id}")
        row = found._mapping
        if row["patient_id"] is None:
            raise PatientNotFound(f"no patient with id {request.patient_id}")
        if not row["patient_active"]:
            raise PatientInactive("this patient record is closed")
        self._check_bookable(row["starts_at"], row["available"], now)
        # "Slot taken" and "same department, same day" are decided by the partial unique
        # indexes at insert (see translate_integrity): one source of truth, no window between
        # a check and the insert.
        values = {
            "patient_id": row["patient_id"],
            "doctor_id": row["doctor_id"],
            "department_id": row["department_id"],
            "slot_id": request.slot_id,
            "starts_at": row["starts_at"],
            "ends_at": row["ends_at"],
            "local_date": row["local_date"],
            "status": AppointmentStatus.BOOKED,
            "channel": request.channel,
            "confirmation_code": new_confirmation_code(),
            "reason": request.reason,
            "booked_at": now,
            "booked_by_user_id": request.actor.user_id,
            "booked_call_id": request.call_linkedid,
            "rescheduled_from_id": rescheduled_from,
        }
        appointment_id = await connection.scalar(_INSERT_APPOINTMENT, values)
        await connection.execute(
            _INSERT_AUDIT,
            {
                "at": now,
                "actor": request.actor.label,
                "actor_user_id": request.actor.user_id,
                "source": request.actor.source,
                "action": AuditAction.CREATE,
                "entity": "appointment",
                "entity_id": str(appointment_id),
                "patient_id": row["patient_id"],
                "detail": {
                    "slot_id": request.slot_id,
                    "channel": request.channel.value,
                    "rescheduled_from": rescheduled_from,
                },
            },
        )
        # A detached record of what was written, with the doctor and department it names.
        appointment = Appointment(id=appointment_id, **values)
        appointment.doctor = Doctor(**{c.key: row[f"dr_{c.key}"] for c in _DOCTOR_COLUMNS_RAW})
        appointment.department = Department(
            **{c.key: row[f"dept_{c.key}"] for c in _DEPARTMENT_COLUMNS_RAW}
        )
        return appointment

    async def cancel(
        self,
        appointment_id: int,
        *,
        actor: Actor,
        channel: Channel,
        reason: str | None = None,
        enforce_cutoff: bool = True,
        now: datetime | None = None,
    ) -> Appointment:
        """Cancel an active appointment, before the cut-off unless staff override it."""
        now = now or self._clock()
        async with self._db.transaction() as session:
            await self._cancel_in(
                session, appointment_id, actor, channel, reason, enforce_cutoff, now
            )
        return await self.get(appointment_id)

    async def _cancel_in(
        self,
        session: AsyncSession,
        appointment_id: int,
        actor: Actor,
        channel: Channel,
        reason: str | None,
        enforce_cutoff: bool,
        now: datetime,
    ) -> Appointment:
        appointment = await session.get(Appointment, appointment_id)
        if appointment is None:
            raise AppointmentNotFound(f"no appointment with id {appointment_id}")
        if appointment.status != AppointmentStatus.BOOKED:
            raise AppointmentNotActive(f"this appointment is already {appointment.status.value}")
        if appointment.starts_at <= now:
            raise CancellationTooLate("this appointment has already started")
        deadline = self.cancellation_deadline(appointment)
        if enforce_cutoff and now > deadline:
            raise CancellationTooLate(
                f"appointments can only be cancelled up to {self._policy.cancel_cutoff_hours} "
                "hours before they start; please call the department"
            )
        # Conditional update: of two racing cancellations exactly one changes the row.
        result = await session.execute(
            update(Appointment)
            .where(Appointment.id == appointment_id, Appointment.status == AppointmentStatus.BOOKED)
            .values(
                status=AppointmentStatus.CANCELLED,
                cancelled_at=now,
                cancelled_by_user_id=actor.user_id,
                cancel_channel=channel,
                cancel_reason=reason,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise AppointmentNotActive("this appointment was cancelled a moment ago")
        add_audit(
            session,
            actor,
            AuditAction.UPDATE,
            "appointment",
            appointment_id,
            patient_id=appointment.patient_id,
            detail={"status": "cancelled", "channel": channel.value, "reason": reason},
        )
        await session.refresh(appointment)
        return appointment

    async def reschedule(
        self,
        appointment_id: int,
        new_slot_id: int,
        *,
        actor: Actor,
        channel: Channel,
        enforce_cutoff: bool = True,
        now: datetime | None = None,
    ) -> Appointment:
        """Move an appointment to another slot: both changes commit together or not at all."""
        now = now or self._clock()
        try:
            async with self._db.transaction() as session:
                return await self.reschedule_in(
                    session,
                    appointment_id,
                    new_slot_id,
                    actor=actor,
                    channel=channel,
                    enforce_cutoff=enforce_cutoff,
                    now=now,
                )
        except IntegrityError as exc:
            domain = translate_integrity(exc)
            if domain is None:
                raise
            raise domain from exc

    async def reschedule_in(
        self,
        session: AsyncSession,
        appointment_id: int,
        new_slot_id: int,
        *,
        actor: Actor,
        channel: Channel,
        enforce_cutoff: bool,
        now: datetime,
    ) -> Appointment:
        """:meth:`reschedule` inside the caller's transaction (which then owns the commit and
        the translation of index violations, :func:`translate_integrity`)."""
        old = await self._cancel_in(
            session, appointment_id, actor, channel, "rescheduled", enforce_cutoff, now
        )
        request = BookingRequest(
            patient_id=old.patient_id,
            slot_id=new_slot_id,
            channel=channel,
            actor=actor,
            reason=old.reason,
        )
        return await self._book_in(session, request, now, rescheduled_from=old.id)

    async def cancel_in(
        self,
        session: AsyncSession,
        appointment_id: int,
        *,
        actor: Actor,
        channel: Channel,
        reason: str | None,
        enforce_cutoff: bool,
        now: datetime,
    ) -> Appointment:
        """:meth:`cancel` inside the caller's transaction."""
        return await self._cancel_in(
            session, appointment_id, actor, channel, reason, enforce_cutoff, now
        )
