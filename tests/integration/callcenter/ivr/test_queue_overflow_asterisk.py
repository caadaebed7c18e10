"""The queue overflows on the real Asterisk: past a 3-second wait the message menu, past a
2-second one the next queue.

The test keeps its own queue (a random name, the agent key's: a caller pressing 0 at the
language menu is handed to it) with a 3-second longest wait and the "message" overflow, applied
to the sandbox's queues.conf with :class:`QueueConfig` and put back afterwards, as
test_queues_asterisk.py does. Nobody is ready: its one member is paused (callers may wait for a
paused agent, not for none). The caller waits, the dialplan's ``leave-message`` extension
brings them back to the IVR's ``queue-overflow`` route, they press 2 and the call-back request
is stored for the queue. The "queue" overflow runs the dialplan alone: the caller leaves the
first queue and joins the second.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.queue_config import QueueConfig
from callcenter.agents.services import AgentService
from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiResynced
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.asterisk.render import write_queues_conf
from callcenter.calls.state import IvrProgress
from callcenter.ivr import after_hours_prompts as closed
from callcenter.ivr import prompts
from callcenter.ivr.flows.after_hours import AfterHoursServices
from callcenter.ivr.plugin import build_routes
from callcenter.ivr.queue_handoff import QueueRouting
from callcenter.settings import AgentsSettings, AgiSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AfterHoursKind, AfterHoursRequest, CallQueue
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.opening_hours import OpeningHoursService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.queues import Members, QueueSettings, create_queue
from hcrm_core.services.scheduling import SchedulingService
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.rig import WAIT, Rig, agent_extension, open_rig

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.parametrize("database", ["sqlite"], indirect=True),
]
CALLER_ID = "+12125550177"
CALL_WAIT = 40.0  # the whole call: the IVR, 3 s in the queue, the overflow's menu
HEARD = (
    prompts.CHOOSE_ENGLISH,
    prompts.CHOOSE_MANDARIN,
    prompts.PRESS[1],
    prompts.PRESS[2],
    prompts.TO_AGENT,
    prompts.GOODBYE,
    prompts.INVALID,
)


@dataclass
class World:
    rig: Rig
    queue: str
    server: FastAgiServer
    # A second queue of the test's, for the "queue" overflow.
    other: str


def _render_prompts(box: AsteriskSandboxHandle) -> None:
    catalogue = prompts.catalogue(prompts.ENGLISH) | closed.catalogue(prompts.ENGLISH)
    wanted = (*HEARD, *closed.TEXTS[prompts.ENGLISH])
    build_prompts(
        {name: catalogue[name] for name in wanted}, sounds_language_dir(box.settings, sandbox=True)
    )


@pytest.fixture
async def world(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle
) -> AsyncIterator[World]:
    await asyncio.to_thread(_render_prompts, asterisk_sandbox)
    queue = f"qo-{uuid.uuid4().hex[:8]}"
    async with database.transaction() as session:  # the agent key leads to the test's queue
        await session.execute(update(CallQueue).values(menu_digit=None))
    await create_queue(
        database,
        queue,
        QueueSettings(
            display_name="Overflow test queue",
            menu_digit="0",
            max_wait_seconds=3,
            overflow="message",
            announce_position=False,
            announce_frequency=0,
        ),
        Members(everyone=True),
        Actor.system(),
    )
    other = f"{queue}-b"
    await create_queue(
        database,
        other,
        QueueSettings(display_name="Overflow target", announce_frequency=0),
        Members(everyone=True),
        Actor.system(),
    )
    policy = BookingPolicy()
    rig = await open_rig(database, asterisk_sandbox)
    hours = OpeningHoursService(database, ZoneInfo("UTC"))
    routes = build_routes(
        rig.bus,
        patients=PatientService(database, policy),
        scheduling=SchedulingService(database, policy),
        appointments=AppointmentService(database, policy),
        timezone="UTC",
        after_hours=AfterHoursServices(
            hours, "UTC", asterisk_sandbox.settings.asterisk.recordings_asterisk_path
        ),
        routing=QueueRouting(database),
    )
    server = FastAgiServer(AgiSettings(port=0), routes)
    await server.start()
    conf_dir = asterisk_sandbox.sandbox.root / "etc/asterisk"
    try:
        await rig.bridge.wait_ready(WAIT)
        await rig.recorder.wait_for(AmiResynced)
        agents = AgentService(rig.bridge, AgentsSettings(), (), AgentNotifier(rig.bus))
        config = QueueConfig(
            rig.bridge,
            database,
            agents,
            conf_dir=conf_dir,
            hospital_name=asterisk_sandbox.settings.hospital.name,
            sandbox=True,
        )
        assert await config.apply()
        for name in (queue, other):
            await rig.bridge.send_action(
                {
                    "Action": "QueueAdd",
                    "Queue": name,
                    "Interface": f"Local/{agent_extension(3)}@{const.CONTEXT_SIM_AGENTS}",
                    "Paused": "true",
                }
            )
        yield World(rig, queue, server, other)
    finally:
        await server.stop()
        # Back to what the fixture rendered (the two default queues), reloaded the same way.
        write_queues_conf(asterisk_sandbox.settings.hospital.name, conf_dir, const.QUEUES)
        await rig.bridge.send_action({"Action": "QueueReload"})
        await rig.stop()


async def test_past_the_longest_wait_the_caller_asks_to_be_called_back(
    world: World, patients_phone: PatientsPhone
) -> None:
    # 0 while the language menu is read (to an agent); 2 while the overflow's menu is read.
    caller = patients_phone.caller(
        [], interrupt={prompts.CHOOSE_ENGLISH: "0", closed.OVERFLOW_CALLBACK_FOR: "2"}
    )
    caller.linkedid = await world.rig.originate_caller(
        "s",
        context=const.CONTEXT_INBOUND,
        exten="s",
        caller_id=f'"Caller" <{CALLER_ID}>',
        variables={"SIM_HOLD": "60", "CALLCENTER_AGI": f"agi://127.0.0.1:{world.server.port}"},
    )
    joined, left = await asyncio.gather(
        world.rig.recorder.wait_for(
            AmiEvent,
            lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == caller.linkedid,
            timeout=WAIT,
        ),
        world.rig.recorder.wait_for(
            IvrProgress,
            lambda p: p.linkedid == caller.linkedid and p.step == "overflow" and p.left,
            timeout=CALL_WAIT,
        ),
    )
    assert joined[0].queue == world.queue
    assert left[0].context["choice"] == "callback"
    await world.rig.ended(caller.linkedid, timeout=WAIT)
    played = caller.played()
    assert closed.OVERFLOW_SORRY in played and closed.OVERFLOW_CALLBACK_FOR in played
    assert played[-2:] == [closed.OVERFLOW_CALLBACK_SAVED, prompts.GOODBYE]
    async with world.rig.database.session() as session:
        (request,) = await session.scalars(select(AfterHoursRequest))
    assert (request.kind, request.queue, request.caller_number, request.linkedid) == (
        AfterHoursKind.CALLBACK,
        world.queue,
        CALLER_ID,
        caller.linkedid,
    )


async def test_past_the_longest_wait_the_caller_moves_to_the_overflow_queue(world: World) -> None:
    # The dialplan alone, with the variables the IVR sets for a "queue" overflow.
    linkedid = await world.rig.originate_caller(
        "s",
        context=const.CONTEXT_QUEUES,
        exten=world.queue,
        variables={
            "SIM_HOLD": "5",
            "CALLCENTER_QUEUE_MAXWAIT": "2",
            "CALLCENTER_QUEUE_OVERFLOW": world.other,
        },
    )
    joined = await world.rig.recorder.wait_for(
        AmiEvent,
        lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == linkedid,
        count=2,
        timeout=WAIT,
    )
    assert [e.queue for e in joined] == [world.queue, world.other]
    await world.rig.ended(linkedid, timeout=WAIT)
