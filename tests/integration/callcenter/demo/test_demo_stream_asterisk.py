"""The demo's simulated patients against the real sandbox: calls land in the DB and on the board.

A real call tracker, FastAGI IVR, AMI bridges (the server's user and the ``sim-driver``) and the
supervisor board service run on one test database; demo callers of every persona are placed,
robot agents (``Local/1XXX@sim-agents``) answer the queue, and each check waits for a notice
or a board push with a timeout.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.services import AgentService
from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiResynced
from callcenter.board.services import BoardChanged, BoardService
from callcenter.bus import EventBus
from callcenter.calls.state import CallEnded
from callcenter.demo.callers import DemoCallers, Persona, StreamSettings, known_callers
from callcenter.demo.run import DEMO_INTERFACE, signed_in_robots
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import language_prompts
from callcenter.ivr.plugin import build_routes
from callcenter.settings import AgentsSettings, AgiSettings
from hcrm_core.db import Database
from hcrm_core.models import Appointment, Call, Slot
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.factories import Hospital, make_hospital, make_patient
from tests.support.rig import Rig, open_rig

pytestmark = [pytest.mark.asterisk, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]
WAIT = 120.0
QUEUE = "appointments"


class BoardWatch:
    """The board's pushes, with a way to wait for one that satisfies a condition."""

    def __init__(self, bus: EventBus) -> None:
        self.latest: dict[str, Any] | None = None
        self._changed = asyncio.Condition()
        bus.subscribe(BoardChanged, self._on_push, name="test-board-watch")

    async def _on_push(self, changed: BoardChanged) -> None:
        async with self._changed:
            self.latest = changed.snapshot
            self._changed.notify_all()

    async def wait_for(self, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: self.latest is not None and check(self.latest))
        assert self.latest is not None
        return self.latest


@dataclass
class DemoRig:
    rig: Rig
    callers: DemoCallers
    board: BoardService
    watch: BoardWatch
    robots: list[str]


def queue_of(snapshot: dict[str, Any]) -> dict[str, Any]:
    (view,) = [q for q in snapshot["queues"] if q["name"] == QUEUE]
    return view


def _render_prompts(box: AsteriskSandboxHandle, hospital: Hospital) -> None:
    # Everything the IVR may play an English caller, the language menu included (an unknown
    # caller has no language on record and is asked first).
    doctors = [hospital.dr_heart, hospital.dr_beat, hospital.dr_skin]
    departments = [hospital.cardiology, hospital.dermatology]
    build_prompts(
        language_prompts(prompts.ENGLISH, departments, doctors),
        sounds_language_dir(box.settings, sandbox=True),
    )


async def _world(database: Database, policy: BookingPolicy, box: AsteriskSandboxHandle) -> None:
    hospital = await make_hospital(database, policy)
    # Slots within the next day are closed, so none slips into the past during a call.
    async with database.transaction() as session:
        await session.execute(
            update(Slot)
            .where(Slot.starts_at < datetime.now(UTC) + timedelta(days=1))
            .values(available=False)
        )
    for n in range(3):
        await make_patient(
            database,
            policy,
            phones=(f"+1212555{random.randint(1000, 9999)}{n}"[:12],),
            date_of_birth=date(1960 + n, 4, 2),
        )
    await asyncio.to_thread(_render_prompts, box, hospital)


@pytest.fixture
async def demo(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[DemoRig]:
    policy = BookingPolicy()
    await _world(database, policy, asterisk_sandbox)
    rig = await open_rig(database, asterisk_sandbox)
    watch = BoardWatch(rig.bus)
    board = BoardService(
        rig.bus,
        database,
        rig.bridge,
        timezone="UTC",
        queues=[(QUEUE, "Appointments")],
        min_interval=0.05,
    )
    await board.start()
    agi = FastAgiServer(
        AgiSettings(port=0),
        build_routes(
            rig.bus,
            patients=PatientService(database, policy),
            scheduling=SchedulingService(database, policy),
            appointments=AppointmentService(database, policy),
            timezone="UTC",
        ),
    )
    await agi.start()
    try:
        await rig.bridge.wait_ready(20)
        await rig.recorder.wait_for(AmiResynced)
        settings = StreamSettings(
            agent_ring_seconds=3,
            agent_talk_seconds=(2, 3),
            impatient_after_seconds=1.0,
            agi_url=f"agi://127.0.0.1:{agi.port}",
        )
        callers = DemoCallers(
            patients_phone.ami, patients_phone.bus, await known_callers(database), settings
        )
        callers.start()
        # Extensions of their own: another test's agent may still be in wrap-up time.
        first = 1000 + random.randint(100, 899)
        robots = [(1, "robot1", str(first)), (2, "robot2", str(first + 1))]
        # The demo signs its robots in through the agent desk's own service.
        agents = AgentService(
            rig.bridge,
            AgentsSettings(interface=DEMO_INTERFACE, queues=[QUEUE]),
            [QUEUE],
            AgentNotifier(rig.bus),
        )
        async with signed_in_robots(agents, robots) as interfaces:
            yield DemoRig(rig, callers, board, watch, interfaces)
        await callers.stop()
    finally:
        await agi.stop()
        await board.stop()
        await rig.stop()


async def test_demo_callers_reach_the_database_and_the_board(demo: DemoRig) -> None:
    before = queue_of(demo.board.snapshot())
    placed = {
        persona: await demo.callers.place(persona)
        for persona in (Persona.AGENT, Persona.BOOK, Persona.UNKNOWN, Persona.IMPATIENT)
    }
    linkedids = set(placed.values())
    ended = await demo.rig.recorder.wait_for(
        CallEnded, lambda n: n.linkedid in linkedids, count=len(linkedids), timeout=WAIT
    )
    assert {n.linkedid for n in ended} == linkedids

    await demo.rig.writer.flush()
    async with demo.rig.database.session() as session:
        rows = {
            c.linkedid: c
            for c in await session.scalars(select(Call).where(Call.linkedid.in_(linkedids)))
        }
        booked = list(
            await session.scalars(
                select(Appointment).where(Appointment.booked_call_id == placed[Persona.BOOK])
            )
        )
    assert set(rows) == linkedids
    assert all(row.ended_at is not None for row in rows.values())
    agent_call = rows[placed[Persona.AGENT]]
    assert agent_call.queue == QUEUE and agent_call.answered_at is not None
    assert agent_call.patient_id is not None  # identified in the IVR: the pop shows them
    assert rows[placed[Persona.UNKNOWN]].answered_at is not None
    assert rows[placed[Persona.IMPATIENT]].abandoned
    assert rows[placed[Persona.BOOK]].ivr_context.get("appointment_id") is not None
    assert len(booked) == 1

    # The board counted them (two answered, one abandoned, four calls today) and shows the
    # robot agents signed in to the queue.
    snapshot = await demo.watch.wait_for(
        lambda s: (
            queue_of(s)["answered"] >= before["answered"] + 2
            and queue_of(s)["abandoned"] >= before["abandoned"] + 1
        )
    )
    assert sum(h["calls"] for h in snapshot["hours"]) >= 4
    on_board = {a["interface"]: a for a in snapshot["agents"]}
    assert set(demo.robots) <= set(on_board)
    assert all(QUEUE in on_board[i]["queues"] for i in demo.robots)
    # The desk's state of the robots is what the board shows (their usernames come with it).
    assert {on_board[i]["username"] for i in demo.robots} == {"robot1", "robot2"}
