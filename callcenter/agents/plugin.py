"""Wiring of the agent desk: the whole graph in one screen, started and stopped in order.

:func:`start` is called by the server's composition root (``callcenter.server.root``) with the
``[agents]`` section and the hospital values it needs; the returned :class:`AgentDesk` is the
handle the root stops and the console uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from callcenter.agents.bus_consume import AgentBusConsumer
from callcenter.agents.call_control import CallControl
from callcenter.agents.dial import ClickToDial
from callcenter.agents.history import AgentHistoryWriter
from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.pops import ScreenPops
from callcenter.agents.queue_config import QueueConfig
from callcenter.agents.services import AgentService
from callcenter.agents.transfer_follow import TransferFollower
from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk.const import QUEUES
from callcenter.bus import EventBus
from callcenter.calls.tracker import CallTracker
from callcenter.settings import AgentsSettings
from hcrm_core.db import Database
from hcrm_core.services.agent_sign_ins import AgentSignIns
from hcrm_core.services.call_records import CallRecords
from hcrm_core.services.contact_history import ContactHistory
from hcrm_core.services.patients import PatientService
from hcrm_core.services.queues import queues_for_user


@dataclass(frozen=True, slots=True)
class AgentDesk:
    """The desk's services, as the console uses them."""

    agents: AgentService
    pops: ScreenPops
    dialer: ClickToDial
    call_records: CallRecords
    history: ContactHistory
    consumer: AgentBusConsumer
    # The queues kept in the database, applied to Asterisk after a change in the console.
    queue_config: QueueConfig
    # Every state change, stored with its time (the reports' agent figures).
    state_history: AgentHistoryWriter
    # The desk's call buttons (hang up, hold, transfer, recording).
    call_control: CallControl

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.call_control.stop()
        await self.pops.stop()
        await self.state_history.stop()
        await self.agents.stop()


async def start(
    settings: AgentsSettings,
    *,
    timezone: ZoneInfo,
    caller_id_number: str,
    phone_region: str,
    bus: EventBus,
    ami: AmiBridge,
    calls: CallTracker,
    database: Database,
    patients: PatientService,
    queues_conf_dir: Path | None = None,
    hospital_name: str = "",
) -> AgentDesk:
    """Build and start the desk; subscribe before the bridge connects to miss nothing.

    ``timezone`` is the hospital's (screen pops' appointment times); ``caller_id_number`` and
    ``phone_region`` are the hospital's, for click-to-dial. Agents join the queues their
    skills lead to; a queue changed in the console is written to ``queues_conf_dir``
    (``asterisk.config_dir``) and reloaded.
    """
    notifier = AgentNotifier(bus)
    agents = AgentService(
        ami,
        settings,
        (q.name for q in QUEUES),
        notifier,
        store=AgentSignIns(database),
        queues_for=partial(queues_for_user, database),
    )
    history = ContactHistory(database)
    pops = ScreenPops(
        agents=agents,
        calls=calls,
        patients=patients,
        history=history,
        database=database,
        notifier=notifier,
        timezone=timezone,
    )
    dialer = ClickToDial(
        ami,
        agents,
        settings,
        caller_id_number=caller_id_number,
        phone_region=phone_region,
    )
    queue_config = QueueConfig(
        ami,
        database,
        agents,
        conf_dir=queues_conf_dir,
        hospital_name=hospital_name,
        notifier=notifier,
    )
    state_history = AgentHistoryWriter(bus, database)
    await state_history.start()
    follower = TransferFollower(bus, agents, pops)
    await follower.start()
    call_control = CallControl(
        ami, agents, pops, follower, phone_region=phone_region, notifier=notifier
    )
    consumer = AgentBusConsumer(
        bus, agents, pops, after_resync=queue_config.apply_once, call_control=call_control
    )
    await consumer.start()
    return AgentDesk(
        agents,
        pops,
        dialer,
        CallRecords(database),
        history,
        consumer,
        queue_config,
        state_history,
        call_control,
    )
