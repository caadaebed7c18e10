"""A rig for IVR calls through the sandbox in either language, recording every AGI command.

Like ``test_ivr_asterisk.py``'s rig (a FastAGI server on the real routes over the test database,
a call tracker writing the call log, the patients' phone pressing keys on cue), plus:

- both languages' prompts, names and Mandarin core sounds are rendered into the sandbox;
- the scripted caller (tests/support/caller.py) records every AGI command the IVR ran, so a
  test sees the prompts played, and asks Asterisk for ``CHANNEL(language)`` at each key prompt
  (AMI Getvar), so a test sees which language directory Asterisk played from;
- the hospital's cancellation cut-off is a parameter.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiResynced
from callcenter.asterisk import const
from callcenter.calls.state import IvrProgress
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import language_prompts
from callcenter.ivr.plugin import build_routes
from callcenter.settings import AgiSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import Appointment, AuditEvent, Channel, Patient, Slot
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import Answer, PatientsPhone, ScriptedCaller
from tests.support.factories import Hospital, make_hospital, make_patient
from tests.support.rig import Rig, open_rig

WAIT = 90.0
PHONE = "+12125550142"
UNKNOWN_PHONE = "+12125550199"
DOB = date(1961, 4, 2)
DOB_KEYS = "02041961"
MRN_DIGITS = "424242"


@dataclass
class LanguageRig:
    rig: Rig
    phone: PatientsPhone
    server: FastAgiServer
    hospital: Hospital
    patient: Patient
    appointments: AppointmentService
    sounds: dict[str, Path]

    async def call(
        self,
        script: list[Answer],
        *,
        caller_id: str = PHONE,
        interrupt: dict[str, str] | None = None,
    ) -> ScriptedCaller:
        # Every GET DATA also asks Asterisk which language it plays (CHANNEL(language)).
        caller = self.phone.caller(script, interrupt=interrupt, probe_language=True)
        caller.linkedid = await self.rig.originate_caller(
            "s",
            context=const.CONTEXT_INBOUND,
            exten="s",
            caller_id=f'"Caller" <{caller_id}>',
            variables={
                "SIM_HOLD": "240",
                "CALLCENTER_AGI": f"agi://127.0.0.1:{self.server.port}",
            },
        )
        return caller

    async def left(self, linkedid: str, timeout: float = WAIT) -> IvrProgress:  # noqa: ASYNC109
        (progress,) = await self.rig.recorder.wait_for(
            IvrProgress, lambda p: p.linkedid == linkedid and p.left, timeout=timeout
        )
        return progress

    def steps(self, linkedid: str, step: str) -> list[IvrProgress]:
        return self.rig.recorder.of(
            IvrProgress, lambda p: p.linkedid == linkedid and p.step == step
        )

    async def book_first_free(self, department_id: int | None = None) -> Appointment:
        """An appointment booked for the patient by an agent before the call."""
        (slot,) = await self.hospital.free_slots(
            department_id=department_id or self.hospital.cardiology.id, limit=1
        )
        request = BookingRequest(self.patient.id, slot.slot_id, Channel.AGENT, Actor.system())
        return await self.appointments.book(request)

    async def appointment(self, appointment_id: int) -> Appointment:
        async with self.rig.database.session() as session:
            row = await session.get(Appointment, appointment_id)
            assert row is not None
            return row

    async def appointments_of(self, patient_id: int) -> list[Appointment]:
        async with self.rig.database.session() as session:
            rows = await session.scalars(
                select(Appointment).where(Appointment.patient_id == patient_id)
            )
            return list(rows)

    async def audit_of(self, appointment_id: int) -> list[AuditEvent]:
        async with self.rig.database.session() as session:
            rows = await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == "appointment")
                .where(AuditEvent.entity_id == str(appointment_id))
                .order_by(AuditEvent.id)
            )
            return list(rows)


async def _render(box: AsteriskSandboxHandle, hospital: Hospital) -> dict[str, Path]:
    departments = [hospital.cardiology, hospital.dermatology]
    doctors = [hospital.dr_heart, hospital.dr_beat, hospital.dr_skin]
    sounds: dict[str, Path] = {}
    for language in prompts.LANGUAGES:
        out_dir = sounds_language_dir(box.settings, sandbox=True, language=language)
        catalogue = language_prompts(language, departments, doctors)
        await asyncio.to_thread(build_prompts, catalogue, out_dir)
        sounds[language] = out_dir
    return sounds


@contextlib.asynccontextmanager
async def open_language_rig(
    database: Database,
    box: AsteriskSandboxHandle,
    phone: PatientsPhone,
    *,
    cancel_cutoff_hours: int = 24,
    preferred_language: str = "en",
) -> AsyncIterator[LanguageRig]:
    """The IVR on the sandbox, with a known patient (``PHONE``, ``DOB``, ``MRN_DIGITS``)."""
    policy = BookingPolicy(cancel_cutoff_hours=cancel_cutoff_hours)
    hospital = await make_hospital(database, policy)
    # Slots within the next day are closed: none slips into the past while a caller listens.
    async with database.transaction() as session:
        await session.execute(
            update(Slot)
            .where(Slot.starts_at < datetime.now(UTC) + timedelta(days=1))
            .values(available=False)
        )
    patient = await make_patient(
        database, policy, phones=(PHONE,), date_of_birth=DOB, mrn=f"MRN{MRN_DIGITS}"
    )
    async with database.transaction() as session:
        await session.execute(
            update(Patient)
            .where(Patient.id == patient.id)
            .values(preferred_language=preferred_language)
        )
    sounds = await _render(box, hospital)
    rig = await open_rig(database, box)
    appointments = AppointmentService(database, policy)
    routes = build_routes(
        rig.bus,
        patients=PatientService(database, policy),
        scheduling=SchedulingService(database, policy),
        appointments=appointments,
        timezone="UTC",
    )
    server = FastAgiServer(AgiSettings(port=0), routes)
    await server.start()
    try:
        await rig.bridge.wait_ready(20)
        await rig.recorder.wait_for(AmiResynced)
        yield LanguageRig(rig, phone, server, hospital, patient, appointments, sounds)
    finally:
        await server.stop()
        await rig.stop()
