"""``callcenter seed --demo``: a realistic, deterministic demo hospital.

Same seed, same hospital: names, phones (stored in the many formats people type them),
clinical flags, schedules and a sprinkling of existing bookings are drawn from one RNG.
Slots are expanded for four weeks from the day the seed runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import DomainError
from hcrm_core.models import (
    Allergy,
    Channel,
    ChronicCondition,
    Department,
    Doctor,
    ExceptionKind,
    Patient,
    PatientPhone,
    PhoneKind,
    ScheduleException,
    ScheduleTemplate,
    Sex,
    Slot,
)
from hcrm_core.phones import to_e164
from hcrm_core.policy import BookingPolicy
from hcrm_core.seed_data import (
    ALLERGENS,
    CITIES,
    CONDITIONS,
    DEPARTMENTS,
    EN_FAMILY,
    EN_GIVEN_F,
    EN_GIVEN_M,
    SESSIONS,
    SPECIALTIES,
    STREETS,
    ZH_FAMILY,
    ZH_GIVEN_F,
    ZH_GIVEN_M,
)
from hcrm_core.seed_segments import seed_segmentation
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.patients import search_name_for
from hcrm_core.services.scheduling import SchedulingService

DOCTORS = 30
SCHEDULE_DAYS = 28
_BATCH = 1000
Progress = Callable[[float], None]


class DemoAlreadySeeded(Exception):
    pass


def _phone_formats(rng: random.Random, region: str) -> tuple[str, str]:
    """A plausible number and the way a person might have typed it; returns (raw, kind)."""
    if region == "US" or rng.random() < 0.2:
        area, line = rng.choice(["212", "347", "617", "312", "415", "713"]), rng.randint(0, 9999)
        exchange = rng.randint(200, 999)
        style = rng.randrange(4)
        raw = [
            f"({area}) {exchange}-{line:04d}",
            f"{area}-{exchange}-{line:04d}",
            f"+1 {area} {exchange} {line:04d}",
            f"1{area}{exchange}{line:04d}",
        ][style]
    else:
        prefix, rest = rng.choice(["138", "139", "186", "150"]), rng.randint(0, 99_999_999)
        raw = rng.choice(
            [f"{prefix}{rest:08d}", f"+86 {prefix} {rest:08d}", f"0086{prefix}{rest:08d}"]
        )
    return raw, rng.choice(["mobile", "mobile", "home", "work"])


def _person(rng: random.Random) -> tuple[str, str, Sex, str]:
    sex = Sex.FEMALE if rng.random() < 0.52 else Sex.MALE
    if rng.random() < 0.3:
        given = rng.choice(ZH_GIVEN_F if sex is Sex.FEMALE else ZH_GIVEN_M)
        return given, rng.choice(ZH_FAMILY), sex, "zh"
    given = rng.choice(EN_GIVEN_F if sex is Sex.FEMALE else EN_GIVEN_M)
    return given, rng.choice(EN_FAMILY), sex, "en"


def _patient_row(rng: random.Random, index: int, today: date) -> dict[str, Any]:
    given, family, sex, language = _person(rng)
    age_days = rng.randint(0, 95 * 365)
    email = None
    if language == "en" and rng.random() < 0.6:
        email = f"{given.lower()}.{family.lower().replace(chr(39), '')}{index}@example.org"
    return {
        "mrn": f"MRN{100000 + index}",
        "given_name": given,
        "family_name": family,
        "search_name": search_name_for(given, family),
        "sex": sex,
        "date_of_birth": today - timedelta(days=age_days),
        "email": email,
        "address": f"{rng.randint(1, 999)} {rng.choice(STREETS)}, {rng.choice(CITIES)}",
        "preferred_language": language,
        "vip": rng.random() < 0.01,
        "consent_call": rng.random() < 0.93,
        "consent_sms": rng.random() < 0.6,
        "consent_email": email is not None and rng.random() < 0.5,
        "do_not_call": rng.random() < 0.02,
        "discharged_at": (
            datetime.now(UTC) - timedelta(days=rng.randint(1, 30)) if rng.random() < 0.05 else None
        ),
    }


async def _seed_departments(database: Database, rng: random.Random) -> list[tuple[int, str]]:
    async with database.transaction() as session:
        departments = [
            Department(
                code=code,
                name=name,
                names={"en": name, "zh": zh},
                synonyms=synonyms,
                menu_order=order,
            )
            for order, (code, name, zh, synonyms) in enumerate(DEPARTMENTS, start=1)
        ]
        session.add_all(departments)
        await session.flush()
        doctors = []
        for index in range(DOCTORS):
            department = departments[index % len(departments)]
            given, family, _sex, _lang = _person(rng)
            doctor = Doctor(
                department_id=department.id,
                given_name=given,
                family_name=family,
                specialty=rng.choice(SPECIALTIES[department.code]),
            )
            doctors.append(doctor)
        session.add_all(doctors)
        await session.flush()
        for doctor in doctors:
            for weekday, start, end in rng.sample(SESSIONS, rng.randint(3, 5)):
                session.add(
                    ScheduleTemplate(
                        doctor_id=doctor.id,
                        weekday=weekday,
                        start_time=time.fromisoformat(start),
                        end_time=time.fromisoformat(end),
                        slot_minutes=rng.choice([15, 15, 20, 30]),
                    )
                )
        return [(d.id, d.family_name) for d in doctors]


async def _seed_leave(
    database: Database,
    policy: BookingPolicy,
    rng: random.Random,
    doctors: list[tuple[int, str]],
    today: date,
) -> None:
    async with database.transaction() as session:
        for doctor_id, _name in rng.sample(doctors, 4):
            first = today + timedelta(days=rng.randint(3, SCHEDULE_DAYS - 5))
            start = datetime.combine(first, time(0), tzinfo=policy.timezone)
            session.add(
                ScheduleException(
                    doctor_id=doctor_id,
                    kind=ExceptionKind.LEAVE,
                    reason="Annual leave",
                    starts_at=start,
                    ends_at=start + timedelta(days=rng.randint(1, 4)),
                )
            )


async def _seed_patients(
    database: Database,
    policy: BookingPolicy,
    rng: random.Random,
    count: int,
    today: date,
    progress: Progress,
) -> list[int]:
    ids: list[int] = []
    for batch_start in range(0, count, _BATCH):
        rows = [
            _patient_row(rng, i, today)
            for i in range(batch_start, min(count, batch_start + _BATCH))
        ]
        async with database.transaction() as session:
            created = list(await session.scalars(insert(Patient).returning(Patient.id), rows))
            phones, allergies, conditions = [], [], []
            for patient_id, row in zip(created, rows, strict=True):
                region = "CN" if row["preferred_language"] == "zh" else "US"
                for n in range(1 if rng.random() < 0.7 else 2):
                    raw, kind = _phone_formats(rng, region if n == 0 else policy.phone_region)
                    phones.append(
                        {
                            "patient_id": patient_id,
                            "raw": raw,
                            "e164": to_e164(raw, policy.phone_region),
                            "kind": PhoneKind(kind),
                            "is_primary": n == 0,
                        }
                    )
                if rng.random() < 0.15:
                    allergies.append(
                        {
                            "patient_id": patient_id,
                            "substance": rng.choice(ALLERGENS),
                            "severity": rng.choice(["mild", "moderate", "severe"]),
                        }
                    )
                for code, name, prevalence in CONDITIONS:
                    if rng.random() < prevalence:
                        conditions.append({"patient_id": patient_id, "code": code, "name": name})
            await session.execute(insert(PatientPhone), phones)
            if allergies:
                await session.execute(insert(Allergy), allergies)
            if conditions:
                await session.execute(insert(ChronicCondition), conditions)
        ids.extend(created)
        progress(0.1 + 0.6 * len(ids) / count)
    return ids


async def _seed_bookings(
    database: Database,
    policy: BookingPolicy,
    rng: random.Random,
    patient_ids: list[int],
    progress: Progress,
) -> int:
    async with database.session() as session:
        slots = list(await session.execute(select(Slot.id).where(Slot.available.is_(True))))
    service = AppointmentService(database, policy)
    chosen = rng.sample(
        [row.id for row in slots], k=min(len(slots) // 4, len(patient_ids) // 3, 1500)
    )
    booked = 0
    for n, slot_id in enumerate(chosen):
        request = BookingRequest(
            patient_id=rng.choice(patient_ids),
            slot_id=slot_id,
            channel=rng.choice(_CHANNELS),
            actor=Actor.system(),
        )
        try:
            await service.book(request)
            booked += 1
        except DomainError:
            continue  # a rule said no (past slot, same-day duplicate): a real hospital's gaps
        if n % 100 == 0:
            progress(0.8 + 0.2 * n / len(chosen))
    return booked


_CHANNELS = (Channel.IVR, Channel.AGENT, Channel.WEB)


async def seed_demo(
    database: Database,
    policy: BookingPolicy,
    *,
    patients: int = 5000,
    seed: int = 2026,
    today: date | None = None,
    progress: Progress = lambda _fraction: None,
) -> str:
    """Create the demo hospital; refuses a database that already has patients or departments."""
    async with database.session() as session:
        existing = await session.scalar(select(func.count()).select_from(Department))
        if existing:
            raise DemoAlreadySeeded("the database already holds a hospital; seed an empty one")
    rng = random.Random(seed)
    today = today or datetime.now(policy.timezone).date()
    doctors = await _seed_departments(database, rng)
    await _seed_leave(database, policy, rng, doctors, today)
    progress(0.1)
    patient_ids = await _seed_patients(database, policy, rng, patients, today, progress)
    slots = await SchedulingService(database, policy).expand_slots(
        today, today + timedelta(days=SCHEDULE_DAYS - 1)
    )
    progress(0.8)
    booked = await _seed_bookings(database, policy, rng, patient_ids, progress)
    history = await seed_segmentation(database, policy.timezone, seed=seed, today=today)
    progress(1.0)
    return (
        f"demo hospital: {len(DEPARTMENTS)} departments, {len(doctors)} doctors, "
        f"{len(patient_ids)} patients, {slots} slots over {SCHEDULE_DAYS} days, "
        f"{booked} appointments, {history['visits']} past visits, "
        f"{history['chronic_care']} chronic-care patients, {history['tagged']} tags given"
    )
