"""Wiring of the agent desk: the whole graph in one screen, started and stopped in order."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.agents.bus_consume import AgentBusConsumer
from callcenter.agents.dial import ClickToDial
from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.pops import ScreenPops
from callcenter.agents.services import AgentService
from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk.const import QUEUES
from callcenter.bus import EventBus
from callcenter.calls.tracker import CallTracker
from callcenter.settings import Settings
from hcrm_core.db import Database
from hcrm_core.services.agent_sign_ins import AgentSignIns
from hcrm_core.services.call_records import CallRecords
from hcrm_core.services.contact_history import ContactHistory
from hcrm_core.services.patients import PatientService


@dataclass(frozen=True, slots=True)
class AgentDesk:
    """The desk's services, as the console uses them."""

    agents: AgentService
    pops: ScreenPops
    dialer: ClickToDial
    call_records: CallRecords
    history: ContactHistory
    consumer: AgentBusConsumer

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.pops.stop()


def start_agent_desk(
    settings: Settings,
    *,
    bus: EventBus,
    ami: AmiBridge,
    calls: CallTracker,
    database: Database,
    patients: PatientService,
) -> AgentDesk:
    """Build and start the desk; subscribe before the bridge connects to miss nothing."""
    notifier = AgentNotifier(bus)
    agents = AgentService(
        ami,
        settings.agents,
        (q.name for q in QUEUES),
        notifier,
        store=AgentSignIns(database),
    )
    history = ContactHistory(database)
    pops = ScreenPops(
        agents=agents,
        calls=calls,
        patients=patients,
        history=history,
        database=database,
        notifier=notifier,
        timezone=settings.tz,
    )
    dialer = ClickToDial(
        ami,
        agents,
        settings.agents,
        caller_id_number=settings.hospital.caller_id_number,
        phone_region=settings.hospital.phone_region,
    )
    consumer = AgentBusConsumer(bus, agents, pops)
    consumer.start()
    return AgentDesk(agents, pops, dialer, CallRecords(database), history, consumer)
