"""Departments, doctors and next free slots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hcrm_core.errors import DepartmentNotFound, DoctorNotFound, ValidationFailed
from hcrm_core.models import Slot, utcnow
from tests.support.factories import make_hospital


async def test_departments_and_doctors(database, policy):
    hospital = await make_hospital(database, policy)
    departments = await hospital.scheduling.list_departments()
    assert [d.code for d in departments] == ["CARD", "DERM"]
    assert departments[0].name_in("zh") == "心内科"
    assert departments[0].name_in("fr") == "Cardiology"
    cardiologists = await hospital.scheduling.list_doctors(hospital.cardiology.id)
    assert {d.family_name for d in cardiologists} == {"Heart", "Beat"}
    with pytest.raises(DepartmentNotFound):
        await hospital.scheduling.list_doctors(4242)


async def test_next_free_slots_sorted_filtered_and_bounded(database, policy):
    hospital = await make_hospital(database, policy)
    now = utcnow()
    slots = await hospital.free_slots(department_id=hospital.cardiology.id, limit=30)
    assert len(slots) == 30
    assert [s.starts_at for s in slots] == sorted(s.starts_at for s in slots)
    assert all(s.starts_at > now for s in slots)
    assert {s.doctor_id for s in slots} == {hospital.dr_heart.id, hospital.dr_beat.id}
    later = await hospital.free_slots(
        doctor_id=hospital.dr_skin.id, from_time=now + timedelta(days=7), limit=3
    )
    assert all(s.starts_at >= now + timedelta(days=7) for s in later)
    assert {s.doctor_id for s in later} == {hospital.dr_skin.id}
    with pytest.raises(ValidationFailed, match="department"):
        await hospital.free_slots()
    with pytest.raises(DoctorNotFound):
        await hospital.free_slots(doctor_id=5555)
    with pytest.raises(ValidationFailed, match="limit"):
        await hospital.free_slots(doctor_id=hospital.dr_skin.id, limit=0)


async def test_expansion_is_idempotent(database, policy):
    hospital = await make_hospital(database, policy, days=7)
    today = utcnow().astimezone(policy.timezone).date()
    again = await hospital.scheduling.expand_slots(today, today + timedelta(days=7))
    assert again == 0
    async with database.session() as session:
        count = await session.scalar(select(func.count()).select_from(Slot))
        dupes = await session.scalar(
            select(func.count()).select_from(
                select(Slot.doctor_id, Slot.starts_at)
                .group_by(Slot.doctor_id, Slot.starts_at)
                .having(func.count() > 1)
                .subquery()
            )
        )
    assert count > 0 and dupes == 0
    with pytest.raises(ValidationFailed):
        await hospital.scheduling.expand_slots(today, today - timedelta(days=1))
