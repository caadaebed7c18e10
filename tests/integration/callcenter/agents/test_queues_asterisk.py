"""Queues kept as data, on the real sandbox: applied with a reload that keeps waiting callers,
and VIP callers answered before those who called earlier.

Each test adds its own queue (a random name) to the sandbox's queues.conf through
:class:`QueueConfig` and puts the fixture's configuration back afterwards. Agents are
``Local/1XXX@sim-agents`` members that answer by themselves; "no agent ready" is a paused
member (callers may wait for a paused agent, not for none: joinempty).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.queue_config import QueueConfig
from callcenter.agents.services import AgentService
from callcenter.ami.bridge import AmiResynced
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.asterisk.render import write_queues_conf
from callcenter.settings import AgentsSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.services.queues import PRIORITY_VIP, Members, QueueSettings, create_queue
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.rig import WAIT, Rig, agent_extension, open_rig

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.parametrize("database", ["sqlite"], indirect=True),
]
ADMIN = Actor.user(1, "admin")
# The callers wait long enough for any test step; the agent answers and hangs up quickly.
CALLER = {"SIM_HOLD": "20", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": "1"}


@dataclass
class World:
    rig: Rig
    config: QueueConfig
    queue: str

    async def join(self, variables: dict[str, str]) -> str:
        """A caller who waits in the test queue; returns its Linkedid once it has joined."""
        linkedid = await self.rig.originate_caller(
            "s", context=const.CONTEXT_QUEUES, exten=self.queue, variables=variables
        )
        await self.rig.recorder.wait_for(
            AmiEvent, lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == linkedid
        )
        return linkedid

    async def member(self, *, paused: bool) -> str:
        interface = f"Local/{agent_extension(1)}@{const.CONTEXT_SIM_AGENTS}"
        await self.rig.bridge.send_action(
            {
                "Action": "QueueAdd",
                "Queue": self.queue,
                "Interface": interface,
                "Paused": "true" if paused else "false",
            }
        )
        return interface

    async def unpause(self, interface: str) -> None:
        await self.rig.bridge.send_action(
            {"Action": "QueuePause", "Queue": self.queue, "Interface": interface, "Paused": "false"}
        )

    async def answered(self) -> list[str]:
        """Linkedids of the test queue's callers in the order agents answered them."""
        connects = [
            e
            for e in self.rig.recorder.of(AmiEvent)
            if e.name == "AgentConnect" and e.get("Queue") == self.queue
        ]
        return [e.get("Linkedid") or "" for e in connects]


@pytest.fixture
async def world(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle
) -> AsyncIterator[World]:
    queue = f"qt-{uuid.uuid4().hex[:8]}"
    await create_queue(
        database,
        queue,
        QueueSettings(
            display_name="Sandbox test queue",
            strategy="ringall",
            wrapup_seconds=0,
            announce_position=False,  # nothing to play between the caller and the agent
            announce_frequency=0,
        ),
        Members(everyone=True),
        ADMIN,
    )
    rig = await open_rig(database, asterisk_sandbox)
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
        yield World(rig, config, queue)
    finally:
        # Back to what the fixture rendered (the two default queues), reloaded the same way.
        write_queues_conf(asterisk_sandbox.settings.hospital.name, conf_dir, const.QUEUES)
        await rig.bridge.send_action({"Action": "QueueReload"})
        await rig.stop()


async def test_a_caller_waiting_during_the_reload_is_answered_afterwards(world: World) -> None:
    agent = await world.member(paused=True)
    linkedid = await world.join(CALLER)
    # A change in the console: another queue appears, the test queue's ring timeout changes.
    other = f"{world.queue}-b"
    await create_queue(
        world.rig.database,
        other,
        QueueSettings(display_name="Added while a caller waits", ring_timeout=20),
        Members(everyone=True),
        ADMIN,
    )
    assert await world.config.apply()
    status = await world.rig.bridge.queue_status()
    assert other in {e.queue for e in status if e.name == "QueueParams"}
    waiting = [e for e in status if e.name == "QueueEntry" and e.queue == world.queue]
    assert [e.get("Linkedid") or e.get("Uniqueid") for e in waiting] == [linkedid]
    assert agent in {
        e.get("Location") for e in status if e.name == "QueueMember" and e.queue == world.queue
    }
    await world.unpause(agent)
    ended = await world.rig.ended(linkedid)
    assert (ended.reason, ended.abandoned) == ("completed", False)
    assert await world.answered() == [linkedid]


async def test_a_vip_who_called_last_is_answered_first(world: World) -> None:
    agent = await world.member(paused=True)
    first = await world.join(CALLER)
    vip = await world.join({**CALLER, "QUEUE_PRIO": str(PRIORITY_VIP)})
    await world.unpause(agent)
    await world.rig.ended(vip)
    await world.rig.ended(first)
    assert await world.answered() == [vip, first]
