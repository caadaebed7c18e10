"""The demo hospital is realistic and deterministic."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from hcrm_core.models import Appointment, Department, Doctor, Patient, PatientPhone, Slot
from hcrm_core.seed import DemoAlreadySeeded, seed_demo
from hcrm_core.services.patients import PatientService


async def _snapshot(database):
    async with database.session() as session:
        patients = (
            await session.execute(
                select(Patient.mrn, Patient.given_name, Patient.family_name, Patient.date_of_birth)
                .order_by(Patient.mrn)
                .limit(50)
            )
        ).all()
        counts = {
            model.__name__: await session.scalar(select(func.count()).select_from(model))
            for model in (Department, Doctor, Patient, PatientPhone, Slot)
        }
    return patients, counts


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_seed_is_deterministic_and_refuses_a_second_run(database, policy, tmp_path):
    from hcrm_core.db import Database
    from hcrm_core.migrate import upgrade_async

    today = date(2026, 11, 23)
    summary = await seed_demo(database, policy, patients=300, seed=7, today=today)
    assert "8 departments, 30 doctors, 300 patients" in summary
    first = await _snapshot(database)
    assert first[1]["Slot"] > 1000
    with pytest.raises(DemoAlreadySeeded):
        await seed_demo(database, policy, patients=300, seed=7, today=today)

    other_url = f"sqlite+aiosqlite:///{tmp_path / 'second.sqlite3'}"
    await upgrade_async(other_url)
    other = Database(other_url)
    try:
        await seed_demo(other, policy, patients=300, seed=7, today=today)
        assert await _snapshot(other) == first
    finally:
        await other.dispose()

    # Every stored phone finds its patient again through the lookup.
    async with database.session() as session:
        phones = (
            await session.execute(select(PatientPhone.raw, PatientPhone.patient_id).limit(40))
        ).all()
        booked = await session.scalar(select(func.count()).select_from(Appointment))
    service = PatientService(database, policy)
    for raw, patient_id in phones:
        assert patient_id in {p.id for p in await service.find_by_phone(raw)}, raw
    assert booked > 0
