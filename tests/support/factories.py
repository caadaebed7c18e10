"""Factories for domain objects in tests: a small hospital with known schedules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import Department, Doctor, Patient, ScheduleTemplate, Sex
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.patients import NewPatient, NewPhone, PatientService
from hcrm_core.services.scheduling import FreeSlot, SchedulingService

_counter = itertools.count(1)


@dataclass
class Hospital:
    database: Database
    policy: BookingPolicy
    cardiology: Department
    dermatology: Department
    dr_heart: Doctor
    dr_beat: Doctor
    dr_skin: Doctor

    @property
    def scheduling(self) -> SchedulingService:
        return SchedulingService(self.database, self.policy)

    async def free_slots(self, **kwargs: object) -> list[FreeSlot]:
        return await self.scheduling.next_free_slots(**kwargs)  # type: ignore[arg-type]


def _weekday_template(doctor_id: int, weekday: int) -> ScheduleTemplate:
    return ScheduleTemplate(
        doctor_id=doctor_id, weekday=weekday, start_time=time(9), end_time=time(12), slot_minutes=30
    )


async def make_hospital(database: Database, policy: BookingPolicy, days: int = 21) -> Hospital:
    """Two departments, three doctors with weekday 09:00-12:00 clinics, slots from today."""
    async with database.transaction() as session:
        cardiology = Department(
            code="CARD",
            name="Cardiology",
            names={"zh": "心内科", "ko": "심장내과"},
            synonyms=["heart"],
            menu_order=1,
        )
        dermatology = Department(
            code="DERM",
            name="Dermatology",
            names={"zh": "皮肤科", "ko": "피부과"},
            synonyms=["skin"],
            menu_order=2,
        )
        session.add_all([cardiology, dermatology])
        await session.flush()
        doctors = [
            Doctor(
                department_id=cardiology.id,
                given_name="Ada",
                family_name="Heart",
                specialty="Heart failure",
            ),
            Doctor(
                department_id=cardiology.id,
                given_name="Ben",
                family_name="Beat",
                specialty="Electrophysiology",
            ),
            Doctor(
                department_id=dermatology.id,
                given_name="Cai",
                family_name="Skin",
                specialty="General dermatology",
            ),
        ]
        session.add_all(doctors)
        await session.flush()
        for doctor in doctors:
            session.add_all(_weekday_template(doctor.id, day) for day in range(5))
    hospital = Hospital(database, policy, cardiology, dermatology, *doctors)
    today = datetime.now(policy.timezone).date()
    await hospital.scheduling.expand_slots(today, today + timedelta(days=days))
    return hospital


async def add_department(
    hospital: Hospital,
    *,
    code: str,
    name: str,
    names: dict[str, str],
    synonyms: list[str] | None = None,
    menu_order: int = 10,
    days: int = 21,
) -> tuple[Department, Doctor]:
    """One more department (localised ``names``, spoken ``synonyms``) with one doctor holding
    weekday 09:00-12:00 clinics, slots from today."""
    async with hospital.database.transaction() as session:
        department = Department(
            code=code, name=name, names=names, synonyms=synonyms or [], menu_order=menu_order
        )
        session.add(department)
        await session.flush()
        doctor = Doctor(
            department_id=department.id,
            given_name="Dee",
            family_name=f"{name[:12]}ist",
            specialty=name,
        )
        session.add(doctor)
        await session.flush()
        session.add_all(_weekday_template(doctor.id, day) for day in range(5))
    today = datetime.now(hospital.policy.timezone).date()
    await hospital.scheduling.expand_slots(today, today + timedelta(days=days))
    return department, doctor


async def make_patient(
    database: Database,
    policy: BookingPolicy,
    *,
    phones: tuple[str, ...] = (),
    given_name: str = "Grace",
    family_name: str | None = None,
    date_of_birth: date = date(1961, 4, 2),
    mrn: str | None = None,
) -> Patient:
    n = next(_counter)
    new = NewPatient(
        mrn=mrn or f"T{n:06d}",
        given_name=given_name,
        family_name=family_name or f"Tester{n}",
        date_of_birth=date_of_birth,
        sex=Sex.FEMALE,
        phones=[NewPhone(p) for p in phones],
    )
    return await PatientService(database, policy).create(new, Actor.system(), date.today())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
