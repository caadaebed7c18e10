"""The demo hospital's segmentation: visit history, tags, chronic care, saved segments.

Three years of attended visits (and some no-shows) drawn per patient from a few profiles
(regular, occasional, new, lapsed, formerly frequent, never seen), so the RFM groups and the
saved segments of the demo are non-empty and mean something: VIP champions, lapsed
chronic-care patients, new patients. Deterministic: its own RNG from the demo's seed, so the
rest of the demo hospital is the same with or without it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    Channel,
    ChronicCondition,
    Department,
    Doctor,
    Patient,
    PatientTag,
    PatientTagLink,
    Segment,
    Slot,
)

# List prices of a visit per department, in cents (the RFM "monetary"; docs/reports.md).
VISIT_FEES: Final = {
    "CARD": 18000,
    "DERM": 9000,
    "ENDO": 14000,
    "GAST": 15000,
    "NEUR": 16000,
    "ORTH": 13000,
    "PEDS": 8000,
    "OBGY": 12000,
}
# Conditions followed up by the chronic-care programme.
CHRONIC_CODES: Final = ("E11", "I50", "J44", "N18", "I10")
TAGS: Final = (
    ("diabetes-programme", "Enrolled in the diabetes education programme"),
    ("cardiac-rehab", "Cardiac rehabilitation follow-up"),
    ("interpreter", "Needs an interpreter at visits"),
    ("research-consent", "Agreed to be contacted about research"),
)
SEGMENTS: Final[tuple[tuple[str, str, dict[str, Any]], ...]] = (
    (
        "Lapsed chronic-care patients",
        "Chronic-care patients who stopped coming: a follow-up call.",
        {"chronic_care": True, "rfm_groups": ["at_risk", "lapsed"]},
    ),
    (
        "VIP champions",
        "VIP patients who visit often and recently.",
        {"vip": True, "rfm_groups": ["champions", "loyal"]},
    ),
    ("New patients", "One recent visit: welcome them.", {"rfm_groups": ["new"]}),
    (
        "Diabetes programme, not seen for 6 months",
        "Programme members with no visit in the last 180 days.",
        {"tags": ["diabetes-programme"], "no_visit_for_days": 180},
    ),
    (
        "Older Mandarin speakers",
        "65 and over, Mandarin: for the interpreter service.",
        {"age_bands": ["65-79", "80+"], "languages": ["zh"]},
    ),
)
# (share of patients, visits (low, high), days since the last visit (low, high)).
_PROFILES: Final = (
    (0.30, (0, 0), (0, 0)),  # never seen
    (0.18, (4, 12), (3, 90)),  # regular
    (0.17, (2, 3), (60, 400)),  # occasional
    (0.10, (1, 1), (2, 60)),  # new
    (0.15, (1, 2), (400, 1000)),  # lapsed
    (0.10, (5, 10), (250, 700)),  # formerly frequent: at risk
)
_HISTORY_DAYS: Final = 3 * 365
_BATCH: Final = 2000


@dataclass(frozen=True, slots=True)
class PastVisit:
    patient_id: int
    doctor_id: int
    department_id: int
    day: date
    status: AppointmentStatus = AppointmentStatus.COMPLETED


async def record_visits(database: Database, visits: list[PastVisit], tz: ZoneInfo) -> int:
    """Past appointments (each with its own past slot, taken): the visit history."""
    used: dict[tuple[int, date], int] = {}
    slots, appointments = [], []
    for visit in visits:
        n = used[(visit.doctor_id, visit.day)] = used.get((visit.doctor_id, visit.day), -1) + 1
        start = datetime.combine(visit.day, time(8), tz) + timedelta(minutes=20 * n)
        slots.append(
            {
                "doctor_id": visit.doctor_id,
                "department_id": visit.department_id,
                "starts_at": start,
                "ends_at": start + timedelta(minutes=20),
                "local_date": visit.day,
                "available": False,
            }
        )
    for first in range(0, len(visits), _BATCH):
        async with database.transaction() as session:
            batch = slots[first : first + _BATCH]
            ids = list(await session.scalars(insert(Slot).returning(Slot.id), batch))
            appointments = [
                _appointment(slot_id, slot, visit)
                for slot_id, slot, visit in zip(ids, batch, visits[first:], strict=False)
            ]
            await session.execute(insert(Appointment), appointments)
    return len(visits)


def _appointment(slot_id: int, slot: dict[str, Any], visit: PastVisit) -> dict[str, Any]:
    return {
        "patient_id": visit.patient_id,
        "doctor_id": visit.doctor_id,
        "department_id": visit.department_id,
        "slot_id": slot_id,
        "starts_at": slot["starts_at"],
        "ends_at": slot["ends_at"],
        "local_date": visit.day,
        "status": visit.status,
        "channel": Channel.AGENT,
        "confirmation_code": f"H{slot_id:010d}",
        "booked_at": slot["starts_at"] - timedelta(days=14),
    }


def _history(
    rng: random.Random, patient_id: int, vip: bool, doctors: list[tuple[int, int]], today: date
) -> list[PastVisit]:
    profiles = _PROFILES[1:3] if vip else _PROFILES  # VIPs are mostly regulars
    roll, chosen = rng.random() * sum(p[0] for p in profiles), profiles[-1]
    for profile in profiles:
        roll -= profile[0]
        if roll <= 0:
            chosen = profile
            break
    _share, (low, high), (recent, oldest) = chosen
    count = rng.randint(low, high)
    if not count:
        return []
    last = today - timedelta(days=rng.randint(recent, oldest))
    days = [last] + [
        last - timedelta(days=rng.randint(1, max(2, _HISTORY_DAYS - (today - last).days)))
        for _ in range(count - 1)
    ]
    home = rng.choice(doctors)
    visits = []
    for day in days:
        doctor_id, department_id = home if rng.random() < 0.7 else rng.choice(doctors)
        missed = day != last and rng.random() < 0.08
        status = AppointmentStatus.NO_SHOW if missed else AppointmentStatus.COMPLETED
        visits.append(PastVisit(patient_id, doctor_id, department_id, day, status))
    return visits


async def seed_segmentation(
    database: Database, tz: ZoneInfo, *, seed: int, today: date
) -> dict[str, int]:
    """Visit fees, chronic care, tags, visit history and the saved segments of the demo."""
    rng = random.Random(f"segments-{seed}")
    async with database.transaction() as session:
        for code, fee in VISIT_FEES.items():
            await session.execute(
                update(Department).where(Department.code == code).values(visit_fee_cents=fee)
            )
        doctors = [
            (d, dep) for d, dep in await session.execute(select(Doctor.id, Doctor.department_id))
        ]
        rows = await session.execute(select(Patient.id, Patient.vip).order_by(Patient.id))
        patients = [(patient_id, vip) for patient_id, vip in rows]
        chronic = set(
            await session.scalars(
                select(ChronicCondition.patient_id).where(ChronicCondition.code.in_(CHRONIC_CODES))
            )
        )
        flagged = sorted(pid for pid in chronic if rng.random() < 0.6)
        for first in range(0, len(flagged), 500):
            await session.execute(
                update(Patient)
                .where(Patient.id.in_(flagged[first : first + 500]))
                .values(chronic_care=True)
            )
        diabetic = set(
            await session.scalars(
                select(ChronicCondition.patient_id).where(ChronicCondition.code == "E11")
            )
        )
        tagged = await _tag(session, rng, [pid for pid, _ in patients], diabetic)
        for name, description, definition in SEGMENTS:
            session.add(Segment(name=name, description=description, definition=definition))
    visits = [visit for pid, vip in patients for visit in _history(rng, pid, vip, doctors, today)]
    await record_visits(database, visits, tz)
    if database.dialect == "postgresql":
        # Fresh statistics: without them the planner loops over the RFM scores per patient.
        async with database.transaction() as session:
            await session.execute(text("ANALYZE"))
    return {"visits": len(visits), "chronic_care": len(flagged), "tagged": tagged}


async def _tag(
    session: AsyncSession, rng: random.Random, patients: list[int], diabetic: set[int]
) -> int:
    tags = [PatientTag(name=name, description=text) for name, text in TAGS]
    session.add_all(tags)
    await session.flush()
    diabetes, cardiac, interpreter, research = (tag.id for tag in tags)
    links = []
    for pid in patients:
        if pid in diabetic and rng.random() < 0.5:
            links.append({"patient_id": pid, "tag_id": diabetes})
        if rng.random() < 0.04:
            links.append({"patient_id": pid, "tag_id": cardiac})
        if rng.random() < 0.05:
            links.append({"patient_id": pid, "tag_id": interpreter})
        if rng.random() < 0.12:
            links.append({"patient_id": pid, "tag_id": research})
    if links:
        await session.execute(insert(PatientTagLink), links)
    return len(links)
