"""The IVR as a classic AGI script (``callcenter-agi``, pyst2, one process per call) on real
calls through the sandbox (tests on real pipes: ``test_classic_pipes.py``).

Sandbox calls reach the host's process through a relay in the chroot
(tests/support/classic_agi_bridge.py); the dialplan is the production one, with
``CALLCENTER_AGI`` pointing at the relay's directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.ami.bridge import AmiResynced
from callcenter.asterisk import const
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import language_prompts
from hcrm_core.db import Database
from hcrm_core.models import Appointment, Channel, Patient, Slot
from hcrm_core.policy import BookingPolicy
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import Answer, PatientsPhone, ScriptedCaller
from tests.support.classic_agi_bridge import classic_agi, classic_env
from tests.support.factories import Hospital, make_hospital, make_patient
from tests.support.rig import Rig, open_rig

pytestmark = pytest.mark.asterisk
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
WAIT = 240.0
PHONE = "+12125550188"
DOB = date(1958, 3, 14)
DOB_KEYS = "14031958"


@dataclass
class ClassicRig:
    rig: Rig
    phone: PatientsPhone
    hospital: Hospital
    patient: Patient

    def caller(self, script: dict[str, list[Answer]]) -> ScriptedCaller:
        return self.phone.caller(script)


@pytest.fixture
async def classic_rig(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[ClassicRig]:
    policy = BookingPolicy()
    hospital = await make_hospital(database, policy)
    async with database.transaction() as session:
        await session.execute(
            update(Slot)
            .where(Slot.starts_at < datetime.now(UTC) + timedelta(days=1))
            .values(available=False)
        )
    patient = await make_patient(database, policy, phones=(PHONE,), date_of_birth=DOB)
    sounds = sounds_language_dir(asterisk_sandbox.settings, sandbox=True, language="en")
    departments = [hospital.cardiology, hospital.dermatology]
    doctors = [hospital.dr_heart, hospital.dr_beat, hospital.dr_skin]
    await asyncio.to_thread(
        build_prompts, language_prompts(prompts.ENGLISH, departments, doctors), sounds
    )
    rig = await open_rig(database, asterisk_sandbox)
    try:
        await rig.bridge.wait_ready(20)
        await rig.recorder.wait_for(AmiResynced)
        yield ClassicRig(rig, patients_phone, hospital, patient)
    finally:
        await rig.stop()


@SQLITE_ONLY
async def test_classic_agi_process_books_an_appointment(
    classic_rig: ClassicRig, database: Database, asterisk_sandbox: AsteriskSandboxHandle, tmp_path
) -> None:
    cardiology = classic_rig.hospital.cardiology
    expected = (await classic_rig.hospital.free_slots(department_id=cardiology.id, limit=1))[0]
    caller = classic_rig.caller(
        {
            prompts.CHOOSE_ENGLISH: ["1"],
            prompts.ASK_DOB: [DOB_KEYS],
            prompts.MAIN_MENU: ["1"],
            prompts.DEPARTMENTS_INTRO: ["1"],
            prompts.DOCTOR_MENU: ["1"],
            prompts.NEXT_SLOTS: ["1"],
            prompts.CONFIRM_SLOT: ["1"],
        }
    )
    env = classic_env(database.url, tmp_path)
    async with classic_agi(asterisk_sandbox.sandbox.root, env) as (spawner, agi_dir):
        caller.linkedid = await classic_rig.rig.originate_caller(
            "s",
            context=const.CONTEXT_INBOUND,
            exten="s",
            caller_id=f'"Caller" <{PHONE}>',
            variables={"SIM_HOLD": "240", "CALLCENTER_AGI": agi_dir},
        )
        await classic_rig.rig.ended(caller.linkedid, timeout=WAIT)
        await spawner.idle(30)
    assert spawner.started == 1
    assert spawner.exit_codes == [0], caller.answered
    async with database.session() as session:
        (appointment,) = (
            await session.scalars(
                select(Appointment).where(Appointment.patient_id == classic_rig.patient.id)
            )
        ).all()
    assert appointment.slot_id == expected.slot_id
    assert appointment.channel == Channel.IVR
    assert appointment.booked_call_id == caller.linkedid
    assert caller.heard[-1] != prompts.CONFIRM_SLOT  # the read-back followed the confirmation
