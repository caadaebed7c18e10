"""Departments, doctors, weekly schedule templates, exceptions and the bookable slots."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hcrm_core.models.base import Base, UtcDateTime
from hcrm_core.models.base_types import enum_type
from hcrm_core.models.enums import ExceptionKind


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # Name per language code ({"zh": "心内科"}) and spoken synonyms for the speech grammar.
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Order in the IVR menu.
    menu_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The list price of a visit, in cents: the "monetary" of the patients' RFM scores
    # (hcrm_core.services.rfm). An estimate of value, not billing; 0 leaves it out.
    visit_fee_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    doctors: Mapped[list[Doctor]] = relationship(back_populates="department")

    def name_in(self, language: str) -> str:
        return self.names.get(language) or self.name


class Doctor(Base):
    __tablename__ = "doctors"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    title: Mapped[str] = mapped_column(String(20), default="Dr.")
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    specialty: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Department] = relationship(back_populates="doctors")
    templates: Mapped[list[ScheduleTemplate]] = relationship(
        back_populates="doctor", cascade="all, delete-orphan"
    )

    @property
    def display_name(self) -> str:
        return f"{self.title} {self.given_name} {self.family_name}".strip()


class ScheduleTemplate(Base):
    """A weekly clinic session: weekday and hours in the hospital's local time."""

    __tablename__ = "schedule_templates"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes"),
        CheckConstraint("start_time < end_time", name="hours"),
        CheckConstraint("capacity = 1", name="capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)  # Monday = 0
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(SmallInteger, default=15)
    capacity: Mapped[int] = mapped_column(SmallInteger, default=1)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    # Where the clinic is held ("Outpatients B, room 12"), for the console and the patient.
    location: Mapped[str | None] = mapped_column(String(120))

    doctor: Mapped[Doctor] = relationship(back_populates="templates")


class ScheduleException(Base):
    """A change to a doctor's usual week, or (doctor_id NULL) a hospital holiday.

    Every kind but ``extra_session`` is time nobody can book (leave, sick day, holiday): slots
    inside ``starts_at``-``ends_at`` are blocked. An ``extra_session`` adds bookable time:
    slots of ``slot_minutes`` from ``starts_at`` up to ``ends_at`` (the keeper generates them
    like a template's, and blocking exceptions still win over them).
    """

    __tablename__ = "schedule_exceptions"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="span"),
        CheckConstraint(
            "kind <> 'extra_session' OR (slot_minutes IS NOT NULL AND doctor_id IS NOT NULL)",
            name="extra_session",
        ),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int | None] = mapped_column(
        ForeignKey("doctors.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[ExceptionKind] = mapped_column(enum_type(ExceptionKind))
    reason: Mapped[str | None] = mapped_column(String(200))
    # Extra sessions only: the length of each slot and where the session is held.
    slot_minutes: Mapped[int | None] = mapped_column(SmallInteger)
    location: Mapped[str | None] = mapped_column(String(120))

    @property
    def adds_time(self) -> bool:
        return self.kind == ExceptionKind.EXTRA_SESSION


class Slot(Base):
    """One bookable interval of one doctor, expanded from the templates."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("doctor_id", "starts_at"),
        CheckConstraint("starts_at < ends_at", name="span"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Hospital-local calendar day, kept so "same department, same day" needs no tz maths in SQL.
    local_date: Mapped[date] = mapped_column(Date)
    # False when an exception was added after expansion; booked slots keep their appointment.
    available: Mapped[bool] = mapped_column(Boolean, default=True)

    doctor: Mapped[Doctor] = relationship()
