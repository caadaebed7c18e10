"""The closed branch on the real Asterisk, at fixed clock times on both daylight-saving days.

The appointments queue keeps weekday hours 08:00-18:00 (New York). A caller with an unknown
number presses 0 at the language menu while the queue is closed:

- on the fall-back Sunday (01:30, the second one), they hear the closed message with Monday
  08:00 EST said by Asterisk, press 1 and leave a message, and hang up while it records: the
  request is stored with the file Asterisk wrote, their words in it;
- on the spring-forward Sunday, they press the emergency key while the menu is read: the
  dialplan dials the configured number, an outside number the sandbox answers (sim-callee, as
  the dialer's calls reach patients there).
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiResynced
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.calls.state import IvrProgress
from callcenter.ivr import after_hours_prompts as closed
from callcenter.ivr import prompts
from callcenter.ivr.flows.after_hours import AfterHoursServices
from callcenter.ivr.flows.main_menu import AGENT_QUEUE
from callcenter.ivr.plugin import build_routes
from callcenter.settings import AgiSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AfterHoursKind, AfterHoursRequest
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.opening_hours import ClosedOptions, OpeningHoursService, make_interval
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import Answer, PatientsPhone, Say, ScriptedCaller
from tests.support.rig import Rig, open_rig

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.parametrize("database", ["sqlite"], indirect=True),
]
WAIT = 60.0
NY = "America/New_York"
UNKNOWN_PHONE = "+12125550178"
FALL_BACK_SUNDAY = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, the second one
EMERGENCY_NUMBER = "+12125550111"
SPRING_FORWARD_SUNDAY = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
SPOKEN = "callcenter/goodbye"  # what the patient says into the voicemail
HEARD = (
    prompts.CHOOSE_ENGLISH,
    prompts.CHOOSE_MANDARIN,
    prompts.PRESS[1],
    prompts.PRESS[2],
    prompts.GOODBYE,
    prompts.INVALID,
)


@dataclass
class ClosedRig:
    rig: Rig
    phone: PatientsPhone
    box: AsteriskSandboxHandle
    clock: list[datetime]
    server: FastAgiServer

    async def call(self, script: list[Answer], interrupt: dict[str, str]) -> ScriptedCaller:
        caller = self.phone.caller(script, interrupt=interrupt)
        caller.linkedid = await self.rig.originate_caller(
            "s",
            context=const.CONTEXT_INBOUND,
            exten="s",
            caller_id=f'"Caller" <{UNKNOWN_PHONE}>',
            variables={"SIM_HOLD": "60", "CALLCENTER_AGI": f"agi://127.0.0.1:{self.server.port}"},
        )
        return caller

    async def left(self, linkedid: str) -> IvrProgress:
        (progress,) = await self.rig.recorder.wait_for(
            IvrProgress, lambda p: p.linkedid == linkedid and p.left, timeout=WAIT
        )
        return progress

    async def requests(self) -> list[AfterHoursRequest]:
        async with self.rig.database.session() as session:
            return list(await session.scalars(select(AfterHoursRequest)))

    def local(self, recording_path: str) -> Path:
        settings = self.box.settings.asterisk
        assert settings.recordings_local_path is not None
        relative = Path(recording_path).relative_to(str(settings.recordings_asterisk_path))
        return settings.recordings_local_path / relative


def _render_prompts(box: AsteriskSandboxHandle) -> None:
    catalogue = prompts.catalogue(prompts.ENGLISH) | closed.catalogue(prompts.ENGLISH)
    wanted = (*HEARD, *closed.TEXTS[prompts.ENGLISH])
    build_prompts(
        {name: catalogue[name] for name in wanted}, sounds_language_dir(box.settings, sandbox=True)
    )


@pytest.fixture
async def closed_rig(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[ClosedRig]:
    await asyncio.to_thread(_render_prompts, asterisk_sandbox)
    clock = [FALL_BACK_SUNDAY]
    hours = OpeningHoursService(database, ZoneInfo(NY), clock=lambda: clock[0])
    week = [make_interval(day, "08:00", "18:00") for day in range(5)]
    await hours.replace_week(AGENT_QUEUE, week, Actor.system())
    await hours.set_options(ClosedOptions(AGENT_QUEUE, "9", EMERGENCY_NUMBER), Actor.system())
    after_hours = AfterHoursServices(
        hours,
        NY,
        asterisk_sandbox.settings.asterisk.recordings_asterisk_path,
        # The sandbox's outside numbers: a callee that rings a few seconds and answers.
        dial_channel=f"Local/{{number}}@{const.CONTEXT_SIM_CALLEE}",
        clock=lambda: clock[0],
    )
    policy = BookingPolicy()
    rig = await open_rig(database, asterisk_sandbox)
    routes = build_routes(
        rig.bus,
        patients=PatientService(database, policy),
        scheduling=SchedulingService(database, policy),
        appointments=AppointmentService(database, policy),
        timezone="UTC",
        after_hours=after_hours,
    )
    server = FastAgiServer(AgiSettings(port=0), routes)
    await server.start()
    try:
        await rig.bridge.wait_ready(20)
        await rig.recorder.wait_for(AmiResynced)
        yield ClosedRig(rig, patients_phone, asterisk_sandbox, clock, server)
    finally:
        await server.stop()
        await rig.stop()


async def test_a_closed_queue_plays_the_closed_branch_and_keeps_the_requests(
    closed_rig: ClosedRig,
) -> None:
    phone = closed_rig.phone
    # 0 at the language menu; 1 while the closed menu offers a message; then the message.
    voicemail = await closed_rig.call(["0", Say(SPOKEN)], {closed.VOICEMAIL_FOR: "1"})
    # The patient has said their message: they hang up while it is still recording.
    (said,) = await phone.recorder.wait_for(
        AmiEvent,
        lambda e: (
            e.linkedid == voicemail.linkedid
            and e.get("UserEvent") == "SimPatient"
            and e.get("Step") == "said"
        ),
        timeout=WAIT,
    )
    await phone.ami.send_action({"Action": "Hangup", "Channel": said.channel})
    left = await closed_rig.left(voicemail.linkedid)
    await closed_rig.rig.ended(voicemail.linkedid, timeout=WAIT)
    monday_8am_est = int(datetime(2026, 11, 2, 13, 0, tzinfo=UTC).timestamp())
    assert any(c.startswith(f"SAY DATETIME {monday_8am_est} ") for c in voicemail.commands)
    assert voicemail.played()[2:5] == [closed.CLOSED, closed.OPENS_AT, closed.OPENS_AFTER]
    assert voicemail.commands[-1].startswith("RECORD FILE ")
    assert left.step == "closed-voicemail"  # hung up while recording: no goodbye
    (request,) = await closed_rig.requests()
    assert (request.kind, request.queue, request.caller_number) == (
        AfterHoursKind.VOICEMAIL,
        AGENT_QUEUE,
        UNKNOWN_PHONE,
    )
    assert request.recording_path is not None
    with wave.open(str(closed_rig.local(request.recording_path))) as recorded:
        assert recorded.getnframes() > 8000 * 0.5  # half a second of the patient, at least
    closed_rig.local(request.recording_path).unlink()  # the shared sandbox keeps no test audio

    # Spring forward: the emergency key, pressed while the menu is read, reaches the number.
    closed_rig.clock[0] = SPRING_FORWARD_SUNDAY
    emergency = await closed_rig.call(["0"], {closed.EMERGENCY_FOR: "9"})
    left = await closed_rig.left(emergency.linkedid)
    monday_8am_edt = int(datetime(2026, 3, 9, 12, 0, tzinfo=UTC).timestamp())
    assert any(c.startswith(f"SAY DATETIME {monday_8am_edt} ") for c in emergency.commands)
    assert left.step == "closed-emergency"
    assert closed.TRANSFERRING in emergency.played()
    (answered,) = await phone.recorder.wait_for(
        AmiEvent,
        lambda e: (
            e.linkedid == emergency.linkedid
            and e.get("UserEvent") == "SimCallee"
            and e.get("Step") == "answered"
        ),
        timeout=WAIT,
    )
    assert f"/{EMERGENCY_NUMBER}@" in answered.channel
    await phone.ami.send_action({"Action": "Hangup", "Channel": answered.channel})
    await closed_rig.rig.ended(emergency.linkedid, timeout=WAIT)
    assert len(await closed_rig.requests()) == 1  # the voicemail only
