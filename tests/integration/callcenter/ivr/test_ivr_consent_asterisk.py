"""Recording consent asked by the IVR and honoured by the real dialplan (consent = "ask").

A caller with an unknown number presses 0 at the language menu, is asked whether the call may
be recorded, answers, and goes on to the appointments queue, where ``callcenter-record`` starts
MixMonitor (and says so in its ``CallcenterRecording`` UserEvent) or not. The queue's policy is
``always`` for these calls (a channel variable shadowing the rendered global), so only the
caller's answer decides. Nobody is in the queue: the caller cannot join and the call ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiResynced
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.calls.state import IvrProgress
from callcenter.ivr import prompts
from callcenter.ivr.plugin import build_routes
from callcenter.settings import AgiSettings
from hcrm_core.db import Database
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone, ScriptedCaller
from tests.support.rig import Rig, open_rig

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.parametrize("database", ["sqlite"], indirect=True),
]
WAIT = 90.0
UNKNOWN_PHONE = "+12125550177"
QUEUE = "appointments"
# The prompts this call hears (a missing sound would make GET DATA ask with silence instead).
HEARD = (
    prompts.CHOOSE_ENGLISH,
    prompts.CHOOSE_MANDARIN,
    prompts.RECORDING_CONSENT,
    prompts.TO_AGENT,
)


@dataclass
class ConsentRig:
    rig: Rig
    phone: PatientsPhone
    server: FastAgiServer

    async def call(self, consent_key: str) -> ScriptedCaller:
        caller = self.phone.caller(["0", consent_key])  # 0: an agent, at the language menu
        caller.linkedid = await self.rig.originate_caller(
            "s",
            context=const.CONTEXT_INBOUND,
            exten="s",
            caller_id=f'"Caller" <{UNKNOWN_PHONE}>',
            variables={
                "SIM_HOLD": "60",
                "CALLCENTER_AGI": f"agi://127.0.0.1:{self.server.port}",
                f"CALLCENTER_RECORD_POLICY_{QUEUE}": "always",
                "CALLCENTER_RECORD_ANNOUNCE": "",
            },
        )
        return caller


def _render_prompts(box: AsteriskSandboxHandle) -> None:
    catalogue = prompts.catalogue(prompts.ENGLISH)
    build_prompts(
        {name: catalogue[name] for name in HEARD},
        sounds_language_dir(box.settings, sandbox=True),
    )


@pytest.fixture
async def consent(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[ConsentRig]:
    await asyncio.to_thread(_render_prompts, asterisk_sandbox)
    policy = BookingPolicy()
    rig = await open_rig(database, asterisk_sandbox)
    routes = build_routes(
        rig.bus,
        patients=PatientService(database, policy),
        scheduling=SchedulingService(database, policy),
        appointments=AppointmentService(database, policy),
        timezone="UTC",
        ask_recording_consent=True,
    )
    server = FastAgiServer(AgiSettings(port=0), routes)
    await server.start()
    try:
        await rig.bridge.wait_ready(20)
        await rig.recorder.wait_for(AmiResynced)
        yield ConsentRig(rig, patients_phone, server)
    finally:
        await server.stop()
        await rig.stop()


@pytest.mark.parametrize(("key", "recorded"), [("1", True), ("2", False)])
async def test_the_callers_answer_decides_whether_the_queue_call_is_recorded(
    consent: ConsentRig, key: str, recorded: bool
) -> None:
    caller = await consent.call(key)
    (left,) = await consent.rig.recorder.wait_for(
        IvrProgress, lambda p: p.linkedid == caller.linkedid and p.left, timeout=WAIT
    )
    await consent.rig.ended(caller.linkedid, timeout=WAIT)
    assert caller.asked == [prompts.CHOOSE_MANDARIN, prompts.RECORDING_CONSENT]
    assert left.step == "to-agent"
    answer = "yes" if recorded else "no"
    assert f'SET VARIABLE CALLCENTER_RECORD "{answer}"' in caller.commands
    steps = [
        p.step
        for p in consent.rig.recorder.of(IvrProgress, lambda p: p.linkedid == caller.linkedid)
    ]
    assert ("consent-given" if recorded else "consent-refused") in steps
    started = consent.rig.recorder.of(
        AmiEvent,
        lambda e: e.linkedid == caller.linkedid and e.get("UserEvent") == "CallcenterRecording",
    )
    assert [e.get("Policy") for e in started] == (["always"] if recorded else [])
    call = await consent.rig.row(caller.linkedid)
    assert call.ivr_context.get("failed_at") == "language"
