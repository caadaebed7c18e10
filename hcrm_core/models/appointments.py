"""Appointments, with the booking rules the database itself enforces."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hcrm_core.models.base import Base, UtcDateTime, utcnow
from hcrm_core.models.base_types import enum_type
from hcrm_core.models.enums import AppointmentStatus, Channel
from hcrm_core.models.patients import Patient
from hcrm_core.models.scheduling import Department, Doctor

_ACTIVE = text("status = 'booked'")

# Index names are matched by hcrm_core.services.appointments to tell the two races apart.
ACTIVE_SLOT_INDEX = "uq_appointments_active_slot"
ONE_PER_DEPARTMENT_DAY_INDEX = "uq_appointments_patient_department_day"


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        # One active appointment per slot (a slot belongs to one doctor): holds under
        # concurrency on both engines because the database, not the service, decides.
        Index(
            ACTIVE_SLOT_INDEX,
            "slot_id",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index(
            ONE_PER_DEPARTMENT_DAY_INDEX,
            "patient_id",
            "department_id",
            "local_date",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index("ix_appointments_patient_starts", "patient_id", "starts_at"),
        Index("ix_appointments_doctor_starts", "doctor_id", "starts_at"),
        # The reports: bookings and cancellations by when they were made.
        Index("ix_appointments_booked_at", "booked_at"),
        Index("ix_appointments_cancelled_at", "cancelled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    local_date: Mapped[date] = mapped_column(Date)
    status: Mapped[AppointmentStatus] = mapped_column(
        enum_type(AppointmentStatus), default=AppointmentStatus.BOOKED
    )
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    confirmation_code: Mapped[str] = mapped_column(String(12), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    booked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The call that made it, when it came over the phone (Asterisk Linkedid).
    booked_call_id: Mapped[str | None] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_channel: Mapped[Channel | None] = mapped_column(enum_type(Channel, "cancel_channel"))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))

    patient: Mapped[Patient] = relationship()
    doctor: Mapped[Doctor] = relationship()
    department: Mapped[Department] = relationship()
