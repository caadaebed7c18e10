"""Callbacks that keep the caller's place, on the real Asterisk.

The test keeps its own queue (random name) with one simulated agent, paused while the callers
line up. Callers join the queue straight from the dialplan (``callcenter-queues``) as simulated
patients; the callback key is pressed by the patient's side (``SIM_DIGITS``), the dialog's
questions answered on cue by the patients' phone. The server's parts run in-process: the
FastAGI route of the callback key, the placer and its events, one database (SQLite: the
service itself is tested on both engines in tests/integration/hcrm_core/).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import pytest

from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.queue_config import QueueConfig
from callcenter.agents.services import AgentService
from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiResynced
from callcenter.ami.errors import AmiActionError
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.asterisk.render import write_queues_conf
from callcenter.callbacks.bus_consume import CallbackEvents
from callcenter.callbacks.placer import CallbackPlacer, PlacerOptions
from callcenter.calls.channel_ids import callback_channel_id
from callcenter.calls.state import IvrProgress
from callcenter.ivr import callback_prompts as said
from callcenter.ivr import prompts
from callcenter.ivr.flows.queue_callback import CallbackDialogServices, queue_callback
from callcenter.settings import AgentsSettings, AgiSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import CallbackStatus, utcnow
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.callbacks import CallbackService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.queues import Members, QueueSettings, create_queue
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.rig import WAIT, Rig, agent_extension, open_rig

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.parametrize("database", ["sqlite"], indirect=True),
]
TALK = "2"  # seconds each simulated agent talks
SIMULATED = (("__SIM_AGENT_TALK", TALK), ("__SIM_AGENT_RING", "0"), ("SIM_HOLD", "5"))


def _render_prompts(box: AsteriskSandboxHandle) -> None:
    catalogue = prompts.catalogue(prompts.ENGLISH) | said.catalogue(prompts.ENGLISH)
    wanted = (*said.TEXTS[prompts.ENGLISH], prompts.GOODBYE)
    build_prompts(
        {name: catalogue[name] for name in wanted}, sounds_language_dir(box.settings, sandbox=True)
    )


@dataclass
class World:
    rig: Rig
    queue: str
    agent: str
    server: FastAgiServer
    service: CallbackService
    prefix: str

    def placer(self) -> tuple[CallbackPlacer, CallbackEvents]:
        placer = CallbackPlacer(
            ami=self.rig.bridge,
            callbacks=self.service,
            options=PlacerOptions(
                channel_prefix=self.prefix,
                ring_seconds=10,
                replace_seconds=1.0,
                tick_seconds=0.2,
                agi_url=f"agi://127.0.0.1:{self.server.port}",
                variables=SIMULATED,
            ),
            # The patient: a simulated phone that answers at once and listens.
            route=lambda _number: f"Local/answer@{const.CONTEXT_SIM_CALLEE}",
        )
        return placer, CallbackEvents(self.rig.bus, placer)

    async def join(self, linkedid: str | Callable[[str], bool], count: int = 1) -> AmiEvent:
        """The ``count``-th QueueCallerJoin of a call in the test's queue."""
        matches: Callable[[str], bool] = (
            linkedid if callable(linkedid) else lambda seen: seen == linkedid
        )

        def joined(e: AmiEvent) -> bool:
            return e.name == "QueueCallerJoin" and e.queue == self.queue and matches(e.linkedid)

        events = await self.rig.recorder.wait_for(AmiEvent, joined, count=count, timeout=WAIT)
        return events[count - 1]

    async def caller(self, phone: PatientsPhone, caller_id: str, *, press: bool = False) -> str:
        variables = {"SIM_HOLD": "60", "CALLCENTER_AGI": f"agi://127.0.0.1:{self.server.port}"}
        variables.update(dict(SIMULATED[:2]))
        if press:  # the callback key, a second after joining
            variables.update({"SIM_DELAY": "1", "SIM_DIGITS": const.CALLBACK_KEY})
        scripted = phone.caller(
            lambda prompt: {said.CONFIRM: "1", said.ENTER_NUMBER: "5#"}.get(prompt)
        )
        scripted.linkedid = await self.rig.originate_caller(
            "s",
            context=const.CONTEXT_QUEUES,
            exten=self.queue,
            caller_id=f'"Caller" <{caller_id}>',
            variables=variables,
        )
        return scripted.linkedid

    async def unpause(self) -> None:
        await self.rig.bridge.send_action(
            {
                "Action": "QueuePause",
                "Queue": self.queue,
                "Interface": f"Local/{self.agent}@{const.CONTEXT_SIM_AGENTS}",
                "Paused": "false",
            }
        )

    async def connected(self, count: int) -> list[str]:
        """The Linkedids of the first ``count`` calls an agent of the queue took, in order."""

        def took(e: AmiEvent) -> bool:
            return e.name == "AgentConnect" and e.queue == self.queue

        try:
            events = await self.rig.recorder.wait_for(
                AmiEvent, took, count=count, timeout=WAIT + count * 8
            )
        except TimeoutError:
            seen = [
                (e.name, e.linkedid, e.get("Reason") or e.get("Position"))
                for e in self.rig.recorder.of(
                    AmiEvent,
                    lambda e: (
                        e.queue == self.queue
                        and e.name.startswith(("Agent", "QueueCaller", "QueueMember"))
                    ),
                )
            ]
            pytest.fail(f"the agent did not take {count} calls; the queue saw {seen}")
        return [e.linkedid for e in events[:count]]

    def patients_rung(self, linkedid: str) -> int:
        return len(
            self.rig.recorder.of(
                AmiEvent,
                lambda e: (
                    e.name == "UserEvent"
                    and e.get("UserEvent") == "SimCallee"
                    and e.get("Step") == "answered"
                    and e.linkedid == linkedid
                ),
            )
        )


@pytest.fixture
async def world(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle
) -> AsyncIterator[World]:
    await asyncio.to_thread(_render_prompts, asterisk_sandbox)
    queue = f"cb-{uuid.uuid4().hex[:8]}"
    await create_queue(
        database,
        queue,
        QueueSettings(
            display_name="Callback test queue",
            wrapup_seconds=0,
            announce_position=False,
            announce_frequency=0,
        ),
        Members(everyone=True),
        Actor.system(),
    )
    policy = BookingPolicy()
    service = CallbackService(database)
    rig = await open_rig(database, asterisk_sandbox)
    dialog = CallbackDialogServices(service, PatientService(database, policy), "US")
    routes = {const.AGI_ROUTE_QUEUE_CALLBACK: partial(queue_callback, bus=rig.bus, services=dialog)}
    server = FastAgiServer(AgiSettings(port=0), routes)
    await server.start()
    conf_dir = asterisk_sandbox.sandbox.root / "etc/asterisk"
    agent = agent_extension(1)
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
        # One agent, paused while the callers line up (callers may wait for a paused agent).
        await rig.bridge.send_action(
            {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": f"Local/{agent}@{const.CONTEXT_SIM_AGENTS}",
                "Paused": "true",
            }
        )
        yield World(rig, queue, agent, server, service, f"cb{uuid.uuid4().hex[:6]}-")
    finally:
        await server.stop()
        with contextlib.suppress(AmiActionError):  # another session may have reloaded queues
            await rig.bridge.send_action(
                {
                    "Action": "QueueRemove",
                    "Queue": queue,
                    "Interface": f"Local/{agent}@{const.CONTEXT_SIM_AGENTS}",
                }
            )
        write_queues_conf(asterisk_sandbox.settings.hospital.name, conf_dir, const.QUEUES)
        await rig.bridge.send_action({"Action": "QueueReload"})
        await rig.stop()


async def test_callers_and_callbacks_reach_the_agent_in_arrival_order(
    world: World, patients_phone: PatientsPhone
) -> None:
    placer, events = world.placer()
    await events.start()
    await placer.reconcile(await world.rig.bridge.resync())
    await placer.start()
    try:
        first = await world.caller(patients_phone, "+12125550401")
        await world.join(first)
        # Second: asks for a callback on their own number (1 confirms the caller ID).
        asker = await world.caller(patients_phone, "+12125550402", press=True)
        await world.join(asker)
        placeholder = await world.join(lambda seen: seen.startswith(world.prefix))
        (callback,) = [c for c in await world.service.in_asterisk() if c.queue == world.queue]
        cid = callback_channel_id(world.prefix, callback.callback_id, 1)
        assert placeholder.linkedid == cid
        assert placeholder.get("Position") == "2"  # behind the first caller, as they were
        assert placeholder.caller_id_num == "+12125550402"  # what the agent sees
        assert callback.phone_e164 == "+12125550402"
        # Third: no usable caller ID, keys a number that cannot be dialled: refused, and they
        # go back to the place they left (third), ahead of the fourth who came meanwhile.
        refused = await world.caller(patients_phone, "12", press=True)
        await world.join(refused)
        await world.rig.recorder.wait_for(
            IvrProgress,
            lambda p: p.linkedid == refused and p.step == "queue-callback" and not p.left,
            timeout=WAIT,
        )
        last = await world.caller(patients_phone, "+12125550404")
        await world.join(last)
        back = await world.join(refused, count=2)
        assert back.get("Position") == "3"
        await world.unpause()
        assert await world.connected(4) == [first, cid, refused, last]
        (done,) = await world.rig.recorder.wait_for(
            AmiEvent,
            lambda e: (
                e.get("UserEvent") == "CallcenterCallback"
                and e.get("Step") == "dialled"
                and e.linkedid == cid
            ),
            timeout=WAIT,
        )
        assert done.get("Status") == "ANSWER"
        await _settled(world.service, callback.callback_id, CallbackStatus.DONE)
        assert world.patients_rung(cid) == 1  # dialled once, from the agent's call
        played = next(c for c in patients_phone.callers if c.linkedid == refused).played()
        assert said.ENTER_NUMBER in played and said.REFUSED in played
        assert said.SAVED not in played
        assert len(await world.service.due()) == 0
    finally:
        await placer.stop()
        await events.stop()


async def test_a_restart_with_callbacks_pending_loses_and_doubles_none(
    world: World,
) -> None:
    service = world.service
    now = utcnow()
    # Placed by the server before it stopped: its placeholder waits in the queue.
    waiting = await service.request(
        world.queue, "+12125550411", arrived_at=now - timedelta(seconds=30)
    )
    before, before_events = world.placer()
    await before_events.start()
    await before.reconcile(await world.rig.bridge.resync())
    await before.start()
    first_cid = callback_channel_id(world.prefix, waiting.id, 1)
    await world.join(first_cid)
    await before.stop()
    await before_events.stop()
    # While the server was away: one asked (stored, not yet placed; their caller had joined
    # before everyone else, so they go first); one was marked placed but its placeholder is
    # gone undialled (Asterisk lost it).
    asked = await service.request(
        world.queue, "+12125550412", arrived_at=now - timedelta(seconds=60)
    )
    lost = await service.request(
        world.queue, "+12125550413", arrived_at=now - timedelta(seconds=10)
    )
    assert await service.claim_placement(lost.id) is not None
    after, after_events = world.placer()
    await after_events.start()
    try:
        await after.reconcile(await world.rig.bridge.resync())
        await after.start()
        lost_cid = callback_channel_id(world.prefix, lost.id, 2)
        asked_cid = callback_channel_id(world.prefix, asked.id, 1)
        # Both placed in one tick, each joining when Asterisk gets to it: the order in the
        # queue is what counts (the join positions depend on which joined first).
        await world.join(asked_cid)
        await world.join(lost_cid)
        entries = [
            e
            for e in await world.rig.bridge.queue_status()
            if e.name == "QueueEntry" and e.queue == world.queue
        ]
        in_queue = [e.uniqueid for e in sorted(entries, key=lambda e: int(e.get("Position")))]
        assert in_queue == [f"{cid}-b" for cid in (asked_cid, first_cid, lost_cid)]
        await world.unpause()
        # In arrival order; the adopted placeholder was never placed a second time.
        assert await world.connected(3) == [asked_cid, first_cid, lost_cid]
        for callback_id in (waiting.id, lost.id, asked.id):
            await _settled(service, callback_id, CallbackStatus.DONE)
        for cid in (first_cid, lost_cid, asked_cid):
            assert world.patients_rung(cid) == 1
        joins = world.rig.recorder.of(
            AmiEvent,
            lambda e: (
                e.name == "QueueCallerJoin"
                and e.queue == world.queue
                and e.linkedid.startswith(world.prefix)
            ),
        )
        assert sorted(e.linkedid for e in joins) == sorted((first_cid, lost_cid, asked_cid))
    finally:
        await after.stop()
        await after_events.stop()


async def _settled(service: CallbackService, callback_id: int, status: CallbackStatus) -> None:
    async def wait() -> None:
        while True:
            row = await service.get(callback_id)
            if row is not None and row.status is status:
                return
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(wait(), WAIT)
    except TimeoutError:
        row = await service.get(callback_id)
        pytest.fail(f"callback {callback_id} is {row and row.status}, not {status}")
