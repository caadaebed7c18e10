"""The supervisor board follows the queues kept in the database, against the fake AMI.

The agent desk and the board are started as the server wires them (``agents.plugin`` and
``board.plugin``, a real database, the AMI bridge on the fake AMI). The board starts with the
database's active queues and their display names; a queue created, renamed or deactivated in
the console reaches it through the same step that applies the change to Asterisk
(``QueueConfig.apply``: queues.conf rendered, ``QueueReload``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.agents import plugin as agents_plugin
from callcenter.agents.notifier import QueuesChanged
from callcenter.agents.plugin import AgentDesk
from callcenter.ami.bridge import AmiBridge, AmiResynced
from callcenter.asterisk import const
from callcenter.board import plugin as board_plugin
from callcenter.board.plugin import Board
from callcenter.board.services import BoardChanged
from callcenter.bus import EventBus
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.tracker import CallTracker
from callcenter.settings import AgentsSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.patients import PatientService
from hcrm_core.services.queues import Members, QueueSettings, create_queue, update_queue
from tests.support.fake_ami import FakeAmi, ami_settings, event
from tests.support.rig import Recorder

WAIT = 5.0
ADMIN = Actor.user(1, "sue")
Queues = dict[str, dict[str, Any]]


@dataclass
class Rig:
    database: Database
    fake: FakeAmi
    recorder: Recorder
    desk: AgentDesk
    board: Board

    def queues(self) -> Queues:
        return {q["name"]: q for q in self.board.service.snapshot()["queues"]}

    def mark(self) -> int:
        return len(self.recorder.items)

    async def pushed(self, since: int, check: Callable[[Queues], bool]) -> Queues:
        """The first board pushed after ``mark()`` returned ``since`` whose queues pass
        ``check`` (fails after WAIT seconds)."""
        seen = {id(b) for b in self.recorder.items[:since]}

        def matches(changed: BoardChanged) -> bool:
            queues = {q["name"]: q for q in changed.snapshot["queues"]}
            return id(changed) not in seen and check(queues)

        (first, *_) = await self.recorder.wait_for(BoardChanged, matches, timeout=WAIT)
        return {q["name"]: q for q in first.snapshot["queues"]}

    def caller(self, name: str, queue: str, uniqueid: str) -> None:
        self.fake.push(
            event(name, Queue=queue, Uniqueid=uniqueid, Linkedid=uniqueid, Channel="PJSIP/t-1")
        )


@pytest.fixture
async def rig(database: Database, policy: BookingPolicy, tmp_path: Path) -> AsyncIterator[Rig]:
    fake = FakeAmi()
    fake.succeed |= {"queueadd", "queueremove", "queuepause", "queuereload"}
    await fake.start()
    bus = EventBus()
    recorder = Recorder(bus)
    patients = PatientService(database, policy)
    writer = CallLogWriter(database, flush_interval=0.05)
    await writer.start()
    tracker = CallTracker(bus, writer, database, patients, inbound_contexts=[const.CONTEXT_INBOUND])
    await tracker.start()
    bridge = AmiBridge(ami_settings(fake.port), bus)
    desk = await agents_plugin.start(
        AgentsSettings(interface=f"Local/{{extension}}@{const.CONTEXT_SIM_AGENTS}"),
        timezone=ZoneInfo("UTC"),
        caller_id_number="",
        phone_region="US",
        bus=bus,
        ami=bridge,
        calls=tracker,
        database=database,
        patients=patients,
        queues_conf_dir=tmp_path,
        hospital_name="General Hospital",
    )
    board = await board_plugin.start(bus=bus, database=database, ami=bridge, timezone="UTC")
    await bridge.start()
    try:
        await bridge.wait_ready(WAIT)
        await recorder.wait_for(AmiResynced, timeout=WAIT)
        yield Rig(database, fake, recorder, desk, board)
    finally:
        await bridge.stop()
        await board.stop()
        await desk.stop()
        await tracker.stop()
        await writer.stop()
        await bus.close()
        await fake.stop()


async def test_the_board_starts_with_the_database_queues_and_their_display_names(rig: Rig):
    queues = rig.queues()
    assert set(queues) == {"appointments", "enquiries"}
    assert queues["appointments"]["description"] == "Booking, moving and cancelling appointments"
    await update_queue(rig.database, "enquiries", QueueSettings(display_name="Front desk"), ADMIN)
    restarted = await board_plugin.shown_queues(rig.database)
    assert ("enquiries", "Front desk") in restarted


async def test_queues_created_renamed_and_deactivated_while_running_follow_on_the_board(rig: Rig):
    mark = rig.mark()
    await create_queue(
        rig.database,
        "cardiology",
        QueueSettings(display_name="Cardiology"),
        Members(everyone=True),
        ADMIN,
    )
    assert await rig.desk.queue_config.apply()  # as the console does after every change
    assert rig.fake.actions("queuereload")
    pushed = await rig.pushed(mark, lambda q: "cardiology" in q)
    assert pushed["cardiology"]["description"] == "Cardiology"
    assert pushed["cardiology"]["waiting"] == 0

    mark = rig.mark()
    await update_queue(
        rig.database, "cardiology", QueueSettings(display_name="Heart clinic"), ADMIN
    )
    await rig.desk.queue_config.apply()
    await rig.pushed(mark, lambda q: q.get("cardiology", {}).get("description") == "Heart clinic")

    # Deactivated with a caller still waiting: Asterisk keeps the queue until they leave.
    mark = rig.mark()
    rig.caller("QueueCallerJoin", "cardiology", "t-1")
    await rig.pushed(mark, lambda q: q.get("cardiology", {}).get("waiting") == 1)
    await update_queue(rig.database, "cardiology", QueueSettings(active=False), ADMIN)
    await rig.desk.queue_config.apply()
    # The first list without it was published at start-up; the second one is the change.
    *_, change = await rig.recorder.wait_for(QueuesChanged, lambda c: len(c.queues) == 2, count=2)
    mark = next(n for n, item in enumerate(rig.recorder.items) if item is change)
    kept = await rig.pushed(mark, lambda q: "cardiology" in q)
    assert (kept["cardiology"]["waiting"], kept["cardiology"]["description"]) == (1, "Heart clinic")
    mark = rig.mark()
    rig.caller("QueueCallerLeave", "cardiology", "t-1")
    gone = await rig.pushed(mark, lambda q: "cardiology" not in q)
    assert set(gone) == {"appointments", "enquiries"}
