"""Screen pops against the fake AMI (no root, no PBX), on a real database.

The desk's real parts (AMI bridge, call tracker, agent service, screen pops, the desk's bus
consumer) run as the server wires them; the fake AMI accepts the agent's sign-in (QueueAdd)
and then replays a queue call recorded from the sandbox (tests/fixtures/ami): the caller
joins ``appointments``, ``AgentCalled`` rings ``Local/1001@sim-agents``, the agent answers.
Only the caller's number (and the call's Linkedid) differ between the tests.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.agents.bus_consume import AgentBusConsumer
from callcenter.agents.notifier import AgentNotifier, ScreenPopChanged
from callcenter.agents.pops import ScreenPops
from callcenter.agents.services import AgentService
from callcenter.ami.bridge import AmiBridge, AmiResynced
from callcenter.asterisk import const
from callcenter.bus import EventBus
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.state import IvrProgress
from callcenter.calls.tracker import CallTracker
from callcenter.settings import AgentsSettings
from hcrm_core.db import Database
from hcrm_core.models import AuditAction, AuditEvent, Patient
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.contact_history import ContactHistory
from hcrm_core.services.patients import PatientService
from tests.support.factories import make_patient
from tests.support.fake_ami import FakeAmi, ami_settings
from tests.support.paths import AMI_FIXTURES
from tests.support.rig import Recorder

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
WAIT = 5.0
QUEUE = "appointments"
EXTENSION = "1001"  # the recorded call rings Local/1001@sim-agents
RECORDED_LINKEDID = "fixture-1238001b"
RECORDED_NUMBER = "13800138000"  # a Chinese mobile number, as the caller's channel shows it


def recorded_call(linkedid: str, number: str) -> bytes:
    """The recorded queue call's events (no replies to the recording session's actions, no
    FullyBooted), as one caller calling from ``number`` on call ``linkedid``."""
    raw = (AMI_FIXTURES / "queue_call_answered.ami").read_bytes().decode()  # keeps CRLF
    frames = [f for f in raw.split("\r\n\r\n") if f.startswith("Event: ")]
    kept = [f for f in frames if "\r\nActionID: " not in f and "FullyBooted" not in f]
    text = "".join(f + "\r\n\r\n" for f in kept)
    text = text.replace(RECORDED_LINKEDID, linkedid)
    return re.sub(rf"(?<=: ){RECORDED_NUMBER}(?=\r\n)", number, text).encode()


@dataclass
class Desk:
    database: Database
    policy: BookingPolicy
    fake: FakeAmi
    bus: EventBus
    recorder: Recorder
    agents: AgentService
    screen_pops: ScreenPops
    user_id: int = 7

    async def signed_in(self) -> None:
        await self.agents.sign_in(self.user_id, "alice", EXTENSION)

    def call(self, linkedid: str, number: str) -> None:
        self.fake.push(recorded_call(linkedid, number))

    async def carded_pop(self, linkedid: str) -> dict[str, Any]:
        """The pop once its card (or pick list, or new-patient form) is assembled."""

        def assembled(c: ScreenPopChanged) -> bool:
            return c.pop["linkedid"] == linkedid and c.pop["match"] != "pending"

        changes = await self.recorder.wait_for(ScreenPopChanged, assembled, timeout=WAIT)
        assert {c.username for c in changes} == {"alice"}
        return changes[0].pop

    def pops(self, linkedid: str) -> list[dict[str, Any]]:
        return [
            c.pop
            for c in self.recorder.of(ScreenPopChanged, lambda c: c.pop["linkedid"] == linkedid)
        ]

    async def views(self, patient_id: int, linkedid: str) -> list[AuditEvent]:
        """The audited views of the patient's record made for the call."""
        async with self.database.session() as session:
            rows = await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.patient_id == patient_id, AuditEvent.source == linkedid)
                .order_by(AuditEvent.id)
            )
            return list(rows)


@pytest.fixture
async def desk(database: Database, policy: BookingPolicy) -> AsyncIterator[Desk]:
    # The recorded caller ID is a national Chinese number: a hospital in China reads it so.
    policy = dataclasses.replace(policy, phone_region="CN")
    fake = FakeAmi()
    fake.succeed |= {"queueadd", "queueremove", "queuepause"}
    await fake.start()
    bus = EventBus()
    recorder = Recorder(bus)
    patients = PatientService(database, policy)
    writer = CallLogWriter(database, flush_interval=0.05)
    await writer.start()
    tracker = CallTracker(bus, writer, database, patients, inbound_contexts=[const.CONTEXT_INBOUND])
    await tracker.start()
    bridge = AmiBridge(ami_settings(fake.port), bus)
    notifier = AgentNotifier(bus)
    agents = AgentService(
        bridge,
        AgentsSettings(interface=f"Local/{{extension}}@{const.CONTEXT_SIM_AGENTS}"),
        [QUEUE],
        notifier,
    )
    pops = ScreenPops(
        agents=agents,
        calls=tracker,
        patients=patients,
        history=ContactHistory(database),
        database=database,
        notifier=notifier,
        timezone=ZoneInfo("Asia/Shanghai"),
    )
    consumer = AgentBusConsumer(bus, agents, pops)
    await consumer.start()  # before the bridge connects, as the server does
    await bridge.start()
    try:
        await bridge.wait_ready(WAIT)
        await recorder.wait_for(AmiResynced, timeout=WAIT)
        desk = Desk(database, policy, fake, bus, recorder, agents, pops)
        await desk.signed_in()
        yield desk
    finally:
        await bridge.stop()
        await consumer.stop()
        await pops.stop()
        await tracker.stop()
        await writer.stop()
        await bus.close()
        await fake.stop()


async def _patient(desk: Desk, phone: str, **values: Any) -> Patient:
    return await make_patient(desk.database, desk.policy, phones=(phone,), **values)


async def test_signing_in_adds_the_agents_phone_to_the_queue(desk: Desk) -> None:
    (added,) = desk.fake.actions("queueadd")
    assert (added["Queue"], added["Interface"]) == (QUEUE, "Local/1001@sim-agents")


async def test_a_known_caller_pops_with_their_card(desk: Desk) -> None:
    patient = await _patient(desk, "+86 138 0013 8000", given_name="Fang", family_name="Wang")
    desk.call("pop-known", RECORDED_NUMBER)
    pop = await desk.carded_pop("pop-known")
    assert (pop["match"], pop["queue"]) == ("caller_id", QUEUE)
    assert pop["caller_number"] == RECORDED_NUMBER
    assert pop["patient"]["id"] == patient.id
    assert pop["patient"]["name"] == "Fang Wang"
    assert (pop["candidates"], pop["prefill"]) == ([], None)
    # The first pop is sent at once, ringing, before the card is looked up.
    assert desk.pops("pop-known")[0]["match"] == "pending"
    # The card is a view of the record, audited under the agent's name for this call.
    (view,) = await desk.views(patient.id, "pop-known")
    assert view.actor_user_id == desk.user_id and view.action is AuditAction.VIEW
    assert view.detail["match"] == "caller_id"


async def test_an_unknown_number_pops_the_new_patient_form(desk: Desk) -> None:
    await _patient(desk, "+86 139 0013 9000")  # someone else
    desk.call("pop-unknown", RECORDED_NUMBER)
    pop = await desk.carded_pop("pop-unknown")
    assert pop["match"] == "unknown"
    assert pop["patient"] is None and pop["candidates"] == []
    assert pop["prefill"] == {"phone": RECORDED_NUMBER}


async def test_the_identity_confirmed_in_the_ivr_wins_over_the_caller_id(desk: Desk) -> None:
    # The phone is a relative's: caller ID alone would pop the wrong record.
    await _patient(desk, "+86 138 0013 8000", given_name="Relative")
    caller = await _patient(desk, "+86 137 0013 7000", given_name="Caller")
    desk.bus.publish(
        IvrProgress(
            "pop-ivr",
            "to-agent",
            {"patient_id": caller.id, "identified_by": "mrn"},
            left=True,
            patient_id=caller.id,
        )
    )
    desk.call("pop-ivr", RECORDED_NUMBER)
    pop = await desk.carded_pop("pop-ivr")
    assert pop["match"] == "ivr"
    assert pop["patient"]["id"] == caller.id
    assert pop["ivr"]["last_step"] == "to-agent"
    assert pop["ivr"]["context"]["identified_by"] == "mrn"
    assert [v.detail["match"] for v in await desk.views(caller.id, "pop-ivr")] == ["ivr"]


async def test_the_ivr_identity_arriving_after_the_card_replaces_the_guess(desk: Desk) -> None:
    # Several processes: the IVR ran on another one and its last step came through the
    # database after the phone rang here (callcenter/cluster/relay.py).
    await _patient(desk, "+86 138 0013 8000", given_name="Relative")
    caller = await _patient(desk, "+86 137 0013 7000", given_name="Caller")
    desk.call("pop-late-ivr", RECORDED_NUMBER)
    guessed = await desk.carded_pop("pop-late-ivr")
    assert guessed["match"] == "caller_id"
    desk.bus.publish(IvrProgress("pop-late-ivr", "to-agent", {"patient_id": caller.id}, left=True))

    def confirmed(c: ScreenPopChanged) -> bool:
        return c.pop["linkedid"] == "pop-late-ivr" and c.pop["match"] == "ivr"

    (change,) = await desk.recorder.wait_for(ScreenPopChanged, confirmed, timeout=WAIT)
    assert change.pop["patient"]["id"] == caller.id
    assert change.pop["ivr"]["last_step"] == "to-agent"
    assert [v.detail["match"] for v in await desk.views(caller.id, "pop-late-ivr")] == ["ivr"]


async def test_the_pop_follows_the_call_to_its_end(desk: Desk) -> None:
    desk.call("pop-ends", RECORDED_NUMBER)

    def phase(name: str) -> Callable[[ScreenPopChanged], bool]:
        return lambda c: c.pop["linkedid"] == "pop-ends" and c.pop["phase"] == name

    await desk.recorder.wait_for(ScreenPopChanged, phase("ended"), timeout=WAIT)
    phases = [p["phase"] for p in desk.pops("pop-ends")]
    assert phases.index("ringing") < phases.index("answered") < phases.index("ended")
    # Answered here: the pop waits on the desk for the call's disposition.
    assert [p.linkedid for p in desk.screen_pops.open_pops("alice")] == ["pop-ends"]
