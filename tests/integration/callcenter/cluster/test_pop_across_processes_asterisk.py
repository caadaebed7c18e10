"""Two real server processes on one PostgreSQL: the IVR runs on A, the agent's browser is on B.

A simulated patient calls the sandbox; the call's FastAGI dialog is served by process A (the
caller's channel names A's FastAGI address), which identifies them by caller ID and date of
birth; they press 0 and the queue rings the agent who signed in on process B's console. B's
tracker sees the ringing from its own AMI session, but the IVR steps exist only on A: they reach
B through the event relay (callcenter/cluster/relay.py), so the pop on B's websocket carries
the identity the IVR confirmed and what the caller did there.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from datetime import date
from pathlib import Path

import pytest

from callcenter.demo.callers import DemoCallers, KnownCaller, Persona, StreamSettings
from hcrm_core.db import Database
from hcrm_core.models import Role
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.users import create_user
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.cluster import browser, start_node, wait_ready
from tests.support.desk import render_ivr_prompts
from tests.support.factories import make_patient
from tests.support.rig import agent_extension

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
POP_WAIT = 60.0  # the IVR speaks its prompts: language, welcome, date of birth, main menu
DOB = date(1961, 3, 9)
PASSWORD = "correct-horse-battery"


async def test_the_pop_on_process_b_carries_the_ivr_that_ran_on_process_a(
    asterisk_sandbox: AsteriskSandboxHandle,
    patients_phone: PatientsPhone,
    database: Database,
    policy: BookingPolicy,
    tmp_path: Path,
) -> None:
    await render_ivr_prompts(asterisk_sandbox)
    phone = f"+1212556{random.randint(2000, 9999)}"
    patient = await make_patient(
        database, policy, given_name="Ana", family_name="Across", phones=(phone,), date_of_birth=DOB
    )
    extension = agent_extension(1)
    async with database.transaction() as session:
        await create_user(
            session, username="alice", password=PASSWORD, role=Role.AGENT, extension=extension
        )
    a = start_node("a", asterisk_sandbox, tmp_path, database.url, dict(os.environ))
    b = start_node("b", asterisk_sandbox, tmp_path, database.url, dict(os.environ))
    callers = DemoCallers(
        patients_phone.ami,
        patients_phone.bus,
        [KnownCaller(phone, DOB.strftime("%d%m%Y"))],
        StreamSettings(agent_ring_seconds=2, agent_talk_seconds=(2, 3), agi_url=a.agi_url),
    )
    try:
        await asyncio.gather(wait_ready(a), wait_ready(b))
        async with browser(b.base, "alice", PASSWORD) as desk:
            status, answer = await desk.post("/api/v1/desk/sign-in", {"extension": extension})
            assert status == 200, answer
            callers.start()
            try:
                linkedid = await callers.place(Persona.AGENT)
                carded = await desk.wait_for(
                    lambda m: (
                        m["type"] == "pop"
                        and m["pop"]["linkedid"] == linkedid
                        and m["pop"]["patient"] is not None
                    ),
                    "pop with the patient's card on B",
                    POP_WAIT,
                )
            finally:
                await callers.stop()
                await desk.post("/api/v1/desk/sign-out", {})
            metrics = await desk.text("/metrics")
    finally:
        a.process.terminate()
        b.process.terminate()

    pop = carded["pop"]
    # The identity the IVR on A confirmed, not a caller-ID guess made on B.
    assert pop["match"] == "ivr", pop
    assert pop["patient"]["id"] == patient.id
    ivr = pop["ivr"]["context"]
    assert ivr["identified_by"] == "caller-id"
    assert "identify-caller-id" in ivr["tried"]
    assert pop["ivr"]["last_step"] == "to-agent"
    # The dialog ran on A only; B learned its steps from the relay.
    assert f"linkedid={linkedid}" in _ivr_lines(a.process.log())
    assert f"linkedid={linkedid}" not in _ivr_lines(b.process.log())
    # What an operator watches (docs/scale.md): B listens and received A's events.
    assert "callcenter_relay_listening 1" in metrics
    received = re.search(r"^callcenter_relay_received_total (\d+)", metrics, re.MULTILINE)
    assert received is not None and int(received.group(1)) >= 5, metrics


def _ivr_lines(log: str) -> str:
    return "\n".join(line for line in log.splitlines() if "IVR step" in line)
