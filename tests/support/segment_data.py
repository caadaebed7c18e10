"""A small hospital with a known visit history, for the segmentation tests.

Five patients with attended visits whose RFM scores are worked out by hand (docstring of
:func:`seed_segments_world`), one without any, tags, a condition, a VIP and a do-not-call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import (
    AppointmentStatus,
    ChronicCondition,
    Department,
    Doctor,
    Patient,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.seed_segments import PastVisit, record_visits
from hcrm_core.services.patient_tags import create_tag, set_tag
from tests.support.factories import Hospital, make_hospital, make_patient

ADMIN = Actor("user:admin", user_id=None)


@dataclass
class SegmentWorld:
    hospital: Hospital
    ids: dict[str, int]  # "A".."F" -> patient id

    def names(self, patient_ids: object) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return sorted(by_id[i] for i in patient_ids)  # type: ignore[attr-defined]


async def _hospital(database: Database, policy: BookingPolicy) -> Hospital:
    """The factories' hospital: the one already there (a console world's), else a new one."""
    async with database.session() as session:
        departments = {d.code: d for d in await session.scalars(select(Department))}
        doctors = {d.family_name: d for d in await session.scalars(select(Doctor))}
    if "CARD" not in departments:
        return await make_hospital(database, policy, days=3)
    return Hospital(
        database,
        policy,
        departments["CARD"],
        departments["DERM"],
        doctors["Heart"],
        doctors["Beat"],
        doctors["Skin"],
    )


async def seed_segments_world(database: Database, policy: BookingPolicy) -> SegmentWorld:
    """Visits (days ago, count, department) and the scores they give among the five:

    ====  ======================  ===  ===  ===  ============
    A     6 cardiology, last 5    R4   F5   M5   champions
    B     3 dermatology, last 20  R3   F3   M3   loyal (and a no-show, not counted)
    C     1 dermatology, last 2   R5   F1   M1   new
    D     4 cardiology, last 600  R2   F4   M4   at_risk
    E     1 dermatology, last 900 R1   F1   M1   lapsed
    F     none                    -    -    -    no_visits
    ====  ======================  ===  ===  ===  ============

    A, D and E are chronic-care; A has E11; A and B carry ``diabetes``; B is VIP; C is 30;
    F speaks Mandarin; E is on the do-not-call list.
    """
    hospital = await _hospital(database, policy)
    today = datetime.now(policy.timezone).date()
    ids = {}
    for n, name in enumerate("ABCDEF"):
        born = today.replace(year=today.year - 30) if name == "C" else date(1950, 4, 2)
        patient = await make_patient(
            database, policy, phones=(f"+1212555{300 + n:04d}",), date_of_birth=born
        )
        ids[name] = patient.id
    card, derm = hospital.dr_heart, hospital.dr_skin
    plan = {"A": (6, 5, card), "B": (3, 20, derm), "C": (1, 2, derm), "D": (4, 600, card)}
    plan["E"] = (1, 900, derm)
    visits = []
    for name, (count, last, doctor) in plan.items():
        for k in range(count):
            day = today - timedelta(days=last + 30 * k)
            visits.append(PastVisit(ids[name], doctor.id, doctor.department_id, day))
    visits.append(
        PastVisit(
            ids["B"],
            derm.id,
            derm.department_id,
            today - timedelta(days=3),
            AppointmentStatus.NO_SHOW,
        )
    )
    await record_visits(database, visits, policy.timezone)
    async with database.transaction() as session:
        await session.execute(
            update(Department)
            .where(Department.id == card.department_id)
            .values(visit_fee_cents=10000)
        )
        await session.execute(
            update(Department)
            .where(Department.id == derm.department_id)
            .values(visit_fee_cents=5000)
        )
        chronic = [ids["A"], ids["D"], ids["E"]]
        await session.execute(
            update(Patient).where(Patient.id.in_(chronic)).values(chronic_care=True)
        )
        await session.execute(update(Patient).where(Patient.id == ids["B"]).values(vip=True))
        await session.execute(
            update(Patient).where(Patient.id == ids["E"]).values(do_not_call=True)
        )
        await session.execute(
            update(Patient).where(Patient.id == ids["F"]).values(preferred_language="zh")
        )
        session.add(ChronicCondition(patient_id=ids["A"], code="E11", name="Type 2 diabetes"))
    await create_tag(database, "diabetes", "Diabetes programme", ADMIN)
    for name in "AB":
        await set_tag(database, ids[name], "diabetes", ADMIN, on=True)
    return SegmentWorld(hospital, ids)
