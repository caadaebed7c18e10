"""A caller identified in the real FastAGI IVR, then handed to an agent: the pop carries the IVR.

A simulated patient (the demo's ``sim-patient`` caller, pressing keys on cue through the
``sim-driver`` AMI session) calls the inbound context; the server's own FastAGI IVR identifies
them by caller ID and date of birth; they press 0 at the main menu and the queue rings the
signed-in agent's ``Local`` phone. The agent's pop must show the identity the IVR confirmed
(not just a caller-ID guess) and what the caller did in the IVR.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import select

from callcenter.agents.notifier import ScreenPopChanged
from callcenter.demo.callers import DemoCallers, KnownCaller, Persona, StreamSettings
from hcrm_core.models import AuditEvent
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.desk import (
    agent_user,
    desk_settings,
    render_ivr_prompts,
    running_desk,
)
from tests.support.factories import make_patient
from tests.support.rig import agent_extension

pytestmark = pytest.mark.asterisk
WAIT = 120.0  # the IVR speaks its prompts: language, welcome, date of birth, main menu
DOB = date(1958, 7, 14)


async def test_the_pop_shows_the_ivr_confirmed_caller_and_what_they_did(
    asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone, tmp_path
) -> None:
    await render_ivr_prompts(asterisk_sandbox)
    settings = desk_settings(asterisk_sandbox, tmp_path)
    async with running_desk(settings) as (server, recorder):
        phone = f"+1212555{random.randint(2000, 9999)}"
        patient = await make_patient(
            server.database,
            settings.booking_policy(),
            given_name="Ivy",
            family_name="Caller",
            phones=(phone,),
            date_of_birth=DOB,
        )
        user_id = await agent_user(server)
        await server.desk.agents.sign_in(user_id, "alice", agent_extension(1))
        callers = DemoCallers(
            patients_phone.ami,
            patients_phone.bus,  # the driver's own events: the IVR's AGIExecStart cues
            [KnownCaller(phone, DOB.strftime("%d%m%Y"))],
            StreamSettings(
                agent_ring_seconds=2,
                agent_talk_seconds=(2, 3),
                agi_url=f"agi://127.0.0.1:{server.agi.port}",
            ),
        )
        callers.start()
        try:
            linkedid = await callers.place(Persona.AGENT)
            carded = await recorder.wait_for(
                ScreenPopChanged,
                lambda c: c.pop["linkedid"] == linkedid and c.pop["patient"] is not None,
                timeout=WAIT,
            )
        finally:
            await callers.stop()

    pop = carded[-1].pop
    assert carded[-1].username == "alice"
    # The IVR's confirmed identity, not a caller-ID guess the agent still has to check.
    assert pop["match"] == "ivr"
    assert pop["patient"]["id"] == patient.id and pop["patient"]["name"] == "Ivy Caller"
    assert pop["caller_number"] == phone
    ivr = pop["ivr"]["context"]
    assert ivr["patient_id"] == patient.id
    assert ivr["identified_by"] == "caller-id"  # caller ID + date of birth, in the IVR
    assert "identify-caller-id" in ivr["tried"]
    # Where and why the caller left the IVR: they asked for an agent at the main menu.
    assert pop["ivr"]["last_step"] == "to-agent"
    assert ivr["reason"] == "caller asked for an agent"
    assert ivr["failed_at"] == "main-menu"
    assert pop["waited_seconds"] is not None
    async with server.database.session() as session:
        views = list(
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.patient_id == patient.id, AuditEvent.source == linkedid
                )
            )
        )
    assert [(v.actor_user_id, v.detail["match"]) for v in views] == [(user_id, "ivr")]
