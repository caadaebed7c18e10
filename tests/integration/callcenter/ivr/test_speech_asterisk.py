"""Speech input on real calls through the sandbox: the patient says a department's Korean name
and "yes", recognised by the real Vosk model, and the booking lands in that department. The
model listens to English callers only (``speech.models``): a caller who chooses Mandarin gets
the keypad alone.

The simulated patient (tests/support/caller.py) speaks on cue: when the IVR starts
``RECORD FILE`` (AMI ``AGIExecStart``) the driver sets ``SIM_SAY`` on the ``;2`` half of the
Local channel and Redirects it to ``sim-patient,say,1``, which plays espeak-ng speech (8 kHz WAV
in the sandbox's sounds) into the call. Keys are pressed with ``PlayDTMF``. Answers are given
per menu (keyed by the menu's first prompt), so the script does not depend on every step.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest
from sqlalchemy import select, update

from callcenter.agi import speech_prompts
from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiResynced
from callcenter.asterisk import const
from callcenter.calls.state import IvrProgress
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import language_prompts
from callcenter.ivr.plugin import build_routes
from callcenter.ivr.speech import Recognizer
from callcenter.ivr.speech_input import SpeechByLanguage, SpeechInput
from callcenter.settings import AgiSettings, SpeechSettings
from hcrm_core.db import Database
from hcrm_core.models import Appointment, Department, Doctor, Patient, Slot
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import Answer, PatientsPhone, Say, ScriptedCaller
from tests.support.factories import Hospital, add_department, make_hospital, make_patient
from tests.support.rig import Rig, open_rig
from tests.support.speech import korean_recognizer, write_spoken

__all__ = ["korean_recognizer"]
pytestmark = pytest.mark.asterisk
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
WAIT = 240.0
PHONE = "+12125550177"
DOB = date(1972, 8, 9)
DOB_KEYS = "09081972"
SPEECH_SOUNDS = "callcenter-test"
SAID = {  # sound name -> Korean text (espeak-ng -v ko)
    "ko-obstetrics": "산부인과",
    "ko-yes": "네",
    "ko-thanks-goodbye": "감사합니다 안녕히 계세요",
}


@dataclass
class SpeechRig:
    rig: Rig
    phone: PatientsPhone
    server: FastAgiServer
    hospital: Hospital
    obstetrics: Department
    patient: Patient
    speech_dir: Path

    async def call(self, script: dict[str, list[Answer]]) -> ScriptedCaller:
        language = {prompts.CHOOSE_ENGLISH: ["1"]}  # asked only if the record has no language
        caller = self.phone.caller(language | script)
        caller.linkedid = await self.rig.originate_caller(
            "s",
            context=const.CONTEXT_INBOUND,
            exten="s",
            caller_id=f'"Caller" <{PHONE}>',
            variables={
                "SIM_HOLD": "240",
                "CALLCENTER_AGI": f"agi://127.0.0.1:{self.server.port}",
            },
        )
        return caller

    async def left(self, linkedid: str) -> IvrProgress:
        (progress,) = await self.rig.recorder.wait_for(
            IvrProgress, lambda p: p.linkedid == linkedid and p.left, timeout=WAIT
        )
        return progress

    async def booked_department(self) -> int:
        """The department of the patient's only appointment."""
        async with self.rig.database.session() as session:
            rows = await session.execute(
                select(Doctor.department_id)
                .join(Slot, Slot.doctor_id == Doctor.id)
                .join(Appointment, Appointment.slot_id == Slot.id)
                .where(Appointment.patient_id == self.patient.id)
            )
            (department_id,) = rows.scalars().all()
            return department_id

    def progress(self, linkedid: str, step: str) -> list[dict[str, object]]:
        return [
            dict(p.context)
            for p in self.rig.recorder.of(IvrProgress)
            if p.linkedid == linkedid and p.step == step
        ]


def _prepare_sounds(
    box: AsteriskSandboxHandle, hospital: Hospital, extra: list[Department]
) -> None:
    sounds = sounds_language_dir(box.settings, sandbox=True, language=prompts.ENGLISH)
    departments = [hospital.cardiology, hospital.dermatology, *extra]
    doctors = [hospital.dr_heart, hospital.dr_beat, hospital.dr_skin]
    build_prompts(language_prompts(prompts.ENGLISH, departments, doctors), sounds)
    mandarin = sounds_language_dir(box.settings, sandbox=True, language=prompts.MANDARIN)
    build_prompts(language_prompts(prompts.MANDARIN, departments, doctors), mandarin)
    for name, text in SAID.items():
        target = sounds / SPEECH_SOUNDS / f"{name}.wav"
        if not target.exists():
            write_spoken(text, target)


@pytest.fixture
async def speech_rig(
    database: Database,
    asterisk_sandbox: AsteriskSandboxHandle,
    korean_recognizer: Recognizer,
    patients_phone: PatientsPhone,
) -> AsyncIterator[SpeechRig]:
    policy = BookingPolicy()
    hospital = await make_hospital(database, policy)
    obstetrics, _doctor = await add_department(
        hospital, code="OBGY", name="Obstetrics", names={"ko": "산부인과"}, menu_order=3
    )
    async with database.transaction() as session:
        # Nothing within a day: no slot may slip into the past while the caller listens.
        await session.execute(
            update(Slot)
            .where(Slot.starts_at < datetime.now(UTC) + timedelta(days=1))
            .values(available=False)
        )
    patient = await make_patient(database, policy, phones=(PHONE,), date_of_birth=DOB)
    await asyncio.to_thread(_prepare_sounds, asterisk_sandbox, hospital, [obstetrics])
    # A directory of this test's own: other sessions may record speech at the same time.
    inside = PurePosixPath("/var/spool/asterisk/callcenter-speech") / uuid.uuid4().hex
    speech_dir = asterisk_sandbox.sandbox.root / inside.relative_to("/")
    speech_dir.mkdir(parents=True, exist_ok=True)
    speech = SpeechInput(
        korean_recognizer,
        SpeechSettings(enabled=True, language="ko", min_confidence=0.9, max_seconds=6),
        asterisk_dir=inside,
        local_dir=speech_dir,
    )
    by_language = SpeechByLanguage({prompts.ENGLISH: speech})
    rig = await open_rig(database, asterisk_sandbox)
    routes = build_routes(
        rig.bus,
        patients=PatientService(database, policy),
        scheduling=SchedulingService(database, policy),
        appointments=AppointmentService(database, policy),
        timezone="UTC",
        # The Korean model hears English callers; Mandarin has no model here.
        speech=by_language,
    )
    server = FastAgiServer(AgiSettings(port=0), routes, speech=by_language)
    await server.start()
    try:
        await rig.bridge.wait_ready(20)
        await rig.recorder.wait_for(AmiResynced)
        yield SpeechRig(rig, patients_phone, server, hospital, obstetrics, patient, speech_dir)
    finally:
        await server.stop()
        await rig.stop()
        shutil.rmtree(speech_dir, ignore_errors=True)


def _sound(name: str) -> Say:
    return Say(f"{SPEECH_SOUNDS}/{name}")


@SQLITE_ONLY
async def test_department_and_confirmation_chosen_by_speech(speech_rig: SpeechRig) -> None:
    caller = await speech_rig.call(
        {
            prompts.ASK_DOB: [DOB_KEYS],
            prompts.MAIN_MENU: ["1"],
            prompts.DEPARTMENTS_INTRO: [_sound("ko-obstetrics")],
            prompts.NEXT_SLOTS: ["1"],
            prompts.CONFIRM_SLOT: [_sound("ko-yes")],
        }
    )
    left = await speech_rig.left(caller.linkedid)
    assert left.step == "done", (left, caller.answered)
    assert await speech_rig.booked_department() == speech_rig.obstetrics.id
    department_steps = speech_rig.progress(caller.linkedid, "book-department")
    assert any(c.get("answered_by") == "speech" for c in department_steps), department_steps
    confirm_steps = speech_rig.progress(caller.linkedid, "book-confirm")
    assert any(c.get("answered_by") == "speech" for c in confirm_steps), confirm_steps
    assert [(menu, verb) for menu, verb, _ in caller.answered if verb == "RECORD FILE"] == [
        (prompts.DEPARTMENTS_INTRO, "RECORD FILE"),
        (prompts.CONFIRM_SLOT, "RECORD FILE"),
    ]
    assert speech_prompts.NOT_UNDERSTOOD not in caller.heard
    assert list(speech_rig.speech_dir.iterdir()) == []  # recordings deleted once recognised


@SQLITE_ONLY
async def test_speech_not_understood_falls_back_to_the_keypad(speech_rig: SpeechRig) -> None:
    caller = await speech_rig.call(
        {
            prompts.ASK_DOB: [DOB_KEYS],
            prompts.MAIN_MENU: ["1"],
            # "Thank you, goodbye" is no department: apologised for, then key 3 (Obstetrics).
            prompts.DEPARTMENTS_INTRO: [_sound("ko-thanks-goodbye"), "3"],
            prompts.NEXT_SLOTS: ["1"],
            prompts.CONFIRM_SLOT: ["1"],  # a key pressed while the IVR records works too
        }
    )
    left = await speech_rig.left(caller.linkedid)
    assert left.step == "done", (left, caller.answered)
    assert await speech_rig.booked_department() == speech_rig.obstetrics.id
    assert speech_prompts.NOT_UNDERSTOOD in caller.heard
    department_steps = speech_rig.progress(caller.linkedid, "book-department")
    assert {"speech": "not-understood"} in department_steps, department_steps
    assert not any(c.get("answered_by") == "speech" for c in department_steps)
    assert [(menu, verb) for menu, verb, _ in caller.answered if menu != prompts.ASK_DOB][1:] == [
        (prompts.DEPARTMENTS_INTRO, "RECORD FILE"),
        (prompts.DEPARTMENTS_INTRO, "GET DATA"),
        (prompts.NEXT_SLOTS, "GET DATA"),
        (prompts.CONFIRM_SLOT, "RECORD FILE"),
    ]
    assert list(speech_rig.speech_dir.iterdir()) == []


@SQLITE_ONLY
async def test_a_caller_in_a_language_without_a_model_gets_the_keypad_only(
    speech_rig: SpeechRig,
) -> None:
    # The record says Mandarin, which no speech model serves: the IVR speaks it at once.
    async with speech_rig.rig.database.transaction() as session:
        await session.execute(
            update(Patient)
            .where(Patient.id == speech_rig.patient.id)
            .values(preferred_language=prompts.MANDARIN)
        )
    caller = await speech_rig.call(
        {
            prompts.ASK_DOB: [DOB_KEYS],
            prompts.MAIN_MENU: ["1"],
            prompts.DEPARTMENTS_INTRO: ["3"],
            prompts.NEXT_SLOTS: ["1"],
            prompts.CONFIRM_SLOT: ["1"],
        }
    )
    left = await speech_rig.left(caller.linkedid)
    assert left.step == "done", (left, caller.answered)
    assert await speech_rig.booked_department() == speech_rig.obstetrics.id
    verbs = {verb for _menu, verb, _ in caller.answered}
    assert "RECORD FILE" not in verbs and "GET DATA" in verbs, caller.answered
    assert speech_prompts.SAY_AFTER_TONE not in caller.heard
    language_steps = speech_rig.progress(caller.linkedid, "language-set")
    assert language_steps and language_steps[0]["language"] == prompts.MANDARIN, language_steps
