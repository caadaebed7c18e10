"""The inbound IVR against the real Asterisk sandbox, checked in the database afterwards.

Each call is a ``Local/s@sim-patient`` caller originated into ``hospital-inbound`` whose FastAGI
URL points at this test's own server (Originate variable ``CALLCENTER_AGI``). The server runs the
real routes over the test database; a call tracker and call log writer record the call. The
caller presses keys exactly when the IVR waits: the patients' phone (the driver AMI session, it
sees ``AGIExecStart``) answers each ``GET DATA`` of the call with the next item of a script, by
``PlayDTMF`` on the ``;2`` half of the Local channel (tests/support/caller.py). Prompts are
rendered into the sandbox's sounds first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiBridge, AmiResynced
from callcenter.asterisk import const
from callcenter.calls.state import CallQueued, IvrProgress
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import database_prompts
from callcenter.ivr.plugin import build_routes
from callcenter.settings import AgiSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import Appointment, Channel, Patient, Slot
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import HANGUP, Answer, PatientsPhone, ScriptedCaller
from tests.support.factories import Hospital, make_hospital, make_patient
from tests.support.rig import (
    Rig,
    agent_extension,
    open_rig,
)

pytestmark = pytest.mark.asterisk
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
WAIT = 90.0
PHONE = "+12125550142"
DOB = date(1961, 4, 2)
DOB_KEYS = "02041961"
WRONG_DOB_KEYS = "01011990"
MRN_DIGITS = "424242"


@dataclass
class IvrRig:
    rig: Rig
    phone: PatientsPhone
    server: FastAgiServer
    hospital: Hospital
    patient: Patient
    appointments: AppointmentService

    async def call(self, script: list[Answer], *, caller_id: str = PHONE) -> ScriptedCaller:
        # The linkedid is chosen before the call, so the caller listens from the first event.
        caller = self.phone.caller(script)
        caller.linkedid = await self.rig.originate_caller(
            "s",
            context=const.CONTEXT_INBOUND,
            exten="s",
            caller_id=f'"Caller" <{caller_id}>',
            variables={
                "SIM_HOLD": "240",
                "CALLCENTER_AGI": f"agi://127.0.0.1:{self.server.port}",
                "__SIM_AGENT_TALK": "1",
            },
        )
        return caller

    async def left(self, linkedid: str, timeout: float = WAIT) -> IvrProgress:  # noqa: ASYNC109
        (progress,) = await self.rig.recorder.wait_for(
            IvrProgress, lambda p: p.linkedid == linkedid and p.left, timeout=timeout
        )
        return progress

    async def appointments_of(self, patient_id: int) -> list[Appointment]:
        async with self.rig.database.session() as session:
            rows = await session.scalars(
                select(Appointment).where(Appointment.patient_id == patient_id)
            )
            return list(rows)


def _render_prompts(box: AsteriskSandboxHandle, hospital: Hospital) -> None:
    doctors = [hospital.dr_heart, hospital.dr_beat, hospital.dr_skin]
    catalogue = dict(prompts.CATALOGUE)
    catalogue.update(
        database_prompts(
            [(d.code, d.name) for d in (hospital.cardiology, hospital.dermatology)],
            [(d.id, d.display_name) for d in doctors],
        )
    )
    build_prompts(catalogue, sounds_language_dir(box.settings, sandbox=True))


@pytest.fixture
async def ivr(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[IvrRig]:
    policy = BookingPolicy()
    hospital = await make_hospital(database, policy)
    # Slots starting within the next day are closed, so none can slip into the past while a
    # caller listens (a dialog lasts a minute or two).
    async with database.transaction() as session:
        await session.execute(
            update(Slot)
            .where(Slot.starts_at < datetime.now(UTC) + timedelta(days=1))
            .values(available=False)
        )
    patient = await make_patient(
        database, policy, phones=(PHONE,), date_of_birth=DOB, mrn=f"MRN{MRN_DIGITS}"
    )
    await asyncio.to_thread(_render_prompts, asterisk_sandbox, hospital)

    rig = await open_rig(database, asterisk_sandbox)
    bus, recorder, bridge = rig.bus, rig.recorder, rig.bridge
    appointments = AppointmentService(database, policy)
    routes = build_routes(
        bus,
        patients=PatientService(database, policy),
        scheduling=SchedulingService(database, policy),
        appointments=appointments,
        timezone="UTC",
    )
    server = FastAgiServer(AgiSettings(port=0), routes)
    await server.start()
    try:
        await bridge.wait_ready(20)
        await recorder.wait_for(AmiResynced)
        yield IvrRig(rig, patients_phone, server, hospital, patient, appointments)
    finally:
        await server.stop()
        await rig.stop()


@contextlib.asynccontextmanager
async def agent_in_appointments(bridge: AmiBridge) -> AsyncIterator[str]:
    """A simulated agent phone (answers after a second) in the appointments queue."""
    interface = f"Local/{agent_extension(1)}@{const.CONTEXT_SIM_AGENTS}"
    queue = "appointments"
    await bridge.send_action({"Action": "QueueAdd", "Queue": queue, "Interface": interface})
    try:
        yield interface
    finally:
        await bridge.send_action({"Action": "QueueRemove", "Queue": queue, "Interface": interface})


# Keys in the order the dialog asks: date of birth, main menu "book", department 1
# (Cardiology), "first available", option 1, confirm.
BOOKING_SCRIPT: list[Answer] = [DOB_KEYS, "1", "1", "1", "1", "1"]


@SQLITE_ONLY
async def test_known_caller_books_an_appointment(ivr: IvrRig) -> None:
    expected = (await ivr.hospital.free_slots(department_id=ivr.hospital.cardiology.id, limit=1))[0]
    caller = await ivr.call(list(BOOKING_SCRIPT))
    left = await ivr.left(caller.linkedid)
    assert left.step == "done", (left, caller.asked)
    (appointment,) = await ivr.appointments_of(ivr.patient.id)
    assert appointment.slot_id == expected.slot_id
    assert appointment.channel == Channel.IVR
    assert appointment.booked_call_id == caller.linkedid
    assert left.context["appointment_id"] == appointment.id
    assert caller.asked[:2] == [prompts.ASK_DOB, prompts.MAIN_MENU]
    assert caller.asked[-1] == prompts.CONFIRM_SLOT
    await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    call = await ivr.rig.row(caller.linkedid)
    assert call.patient_id == ivr.patient.id
    assert call.ivr_last_step == "done" and call.queue is None


@SQLITE_ONLY
async def test_wrong_date_of_birth_falls_back_to_record_number_then_agent(ivr: IvrRig) -> None:
    async with agent_in_appointments(ivr.rig.bridge):
        # Wrong date of birth for the caller ID's patient; then the record number and the right
        # date of birth; then 0 at the main menu.
        caller = await ivr.call([WRONG_DOB_KEYS, MRN_DIGITS, DOB_KEYS, "0"])
        left = await ivr.left(caller.linkedid)
        await ivr.rig.recorder.wait_for(
            CallQueued, lambda q: q.linkedid == caller.linkedid, timeout=WAIT
        )
        await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    assert caller.asked == [prompts.ASK_DOB, prompts.ASK_MRN, prompts.ASK_DOB, prompts.MAIN_MENU]
    assert left.step == "to-agent" and left.patient_id == ivr.patient.id
    assert left.context["failed_at"] == "main-menu"
    assert left.context["failures"] == {"identify-dob": 1}
    assert left.context["tried"] == ["identify-caller-id", "identify-mrn"]
    assert await ivr.appointments_of(ivr.patient.id) == []
    call = await ivr.rig.row(caller.linkedid)
    assert call.queue == "appointments" and call.patient_id == ivr.patient.id
    assert call.ivr_context["failed_at"] == "main-menu"


@SQLITE_ONLY
async def test_three_invalid_keys_reach_an_agent_with_the_failure(ivr: IvrRig) -> None:
    async with agent_in_appointments(ivr.rig.bridge):
        caller = await ivr.call([DOB_KEYS, "7", "8", "5"])
        left = await ivr.left(caller.linkedid)
        await ivr.rig.recorder.wait_for(
            CallQueued, lambda q: q.linkedid == caller.linkedid, timeout=WAIT
        )
        await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    assert left.step == "to-agent"
    assert left.context["reason"] == "too many failures"
    assert left.context["failed_at"] == "main-menu"
    assert left.context["failures"] == {"main-menu": 3}
    assert left.context["queue"] == "appointments"
    call = await ivr.rig.row(caller.linkedid)
    assert call.queue == "appointments"
    assert call.ivr_context["reason"] == "too many failures"
    assert await ivr.appointments_of(ivr.patient.id) == []


@SQLITE_ONLY
async def test_hang_up_while_confirming_leaves_no_booking(ivr: IvrRig) -> None:
    caller = await ivr.call([*BOOKING_SCRIPT[:-1], HANGUP])
    ended = await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    assert caller.asked[-1] == prompts.CONFIRM_SLOT
    assert ended.reason == "caller_hung_up_in_ivr"
    assert await ivr.appointments_of(ivr.patient.id) == []
    call = await ivr.rig.row(caller.linkedid)
    assert call.ivr_last_step == "book-confirm" and call.ivr_left_at is not None


@SQLITE_ONLY
async def test_slot_taken_while_listening_is_apologised_for_and_next_offered(
    ivr: IvrRig,
) -> None:
    rival = await make_patient(ivr.rig.database, BookingPolicy())
    first, second = await ivr.hospital.free_slots(department_id=ivr.hospital.cardiology.id, limit=2)

    async def someone_else_books_option_1() -> str:
        await ivr.appointments.book(
            BookingRequest(rival.id, first.slot_id, channel=Channel.AGENT, actor=Actor.system())
        )
        return "1"

    caller = await ivr.call([DOB_KEYS, "1", "1", "1", someone_else_books_option_1, "1", "1", "1"])
    # Two rounds of three spoken slots: the longest dialog of these tests.
    left = await ivr.left(caller.linkedid, timeout=2 * WAIT)
    assert left.step == "done", (left, caller.asked)
    (appointment,) = await ivr.appointments_of(ivr.patient.id)
    assert appointment.slot_id == second.slot_id
    assert [a.slot_id for a in await ivr.appointments_of(rival.id)] == [first.slot_id]
    taken = ivr.rig.recorder.of(
        IvrProgress, lambda p: p.linkedid == caller.linkedid and p.step == "book-slot-taken"
    )
    assert [p.context["slot_id"] for p in taken] == [first.slot_id]
