"""What the agent desk takes from the bus: member events, call notices, IVR steps, AMI resyncs,
and the desk changes other server processes made (relayed through the database).

One subscription (one queue), so a call's notices reach the pops in the order they were
published. Nothing here waits on Asterisk or the database: restoring memberships after a
resync runs in its own task, and pop assembly is spawned by the pops service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from callcenter.agents.call_control import CallControl
from callcenter.agents.member_events import (
    MEMBER_EVENT_NAMES,
    MemberEventKind,
    parse_member_event,
)
from callcenter.agents.notifier import DeskChanged
from callcenter.agents.pops import ScreenPops
from callcenter.agents.services import AgentService
from callcenter.ami.events import AmiEvent, AmiResynced
from callcenter.bus import EventBus, Subscription
from callcenter.calls.state import AgentRinging, CallAnswered, CallEnded, IvrProgress

_LOG = logging.getLogger(__name__)
_NOTICES = (AgentRinging, CallAnswered, CallEnded, AmiResynced, IvrProgress, DeskChanged)


def _wanted(item: object) -> bool:
    if type(item) is AmiEvent:
        return item.name in MEMBER_EVENT_NAMES
    return isinstance(item, _NOTICES)


class AgentBusConsumer:
    def __init__(
        self,
        bus: EventBus,
        agents: AgentService,
        pops: ScreenPops,
        *,
        after_resync: Callable[[], Awaitable[None]] | None = None,
        call_control: CallControl | None = None,
    ) -> None:
        self._bus = bus
        # Run after the memberships are restored (the queues kept in the database, applied).
        self._after_resync = after_resync
        self._agents = agents
        self._pops = pops
        self._call_control = call_control
        self._subscription: Subscription[object] | None = None
        self._restore: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(
            object, self._on_item, name="agent-desk", predicate=_wanted, maxsize=50_000
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        if self._restore is not None:
            self._restore.cancel()
            await asyncio.gather(self._restore, return_exceptions=True)

    async def _on_item(self, item: object) -> None:
        if isinstance(item, AmiEvent):
            self._on_member_event(item)
        elif isinstance(item, AgentRinging):
            self._pops.on_ringing(item)
        elif isinstance(item, CallAnswered):
            self._pops.on_answered(item)
        elif isinstance(item, CallEnded):
            self._pops.on_ended(item)
        elif isinstance(item, IvrProgress):
            self._pops.on_ivr(item)
        elif isinstance(item, AmiResynced):
            self._restore_memberships(item)
        elif isinstance(item, DeskChanged):
            self._agents.apply_change(item)
            self._pops.apply_change(item)
            if self._call_control is not None:
                self._call_control.apply_change(item)

    def _on_member_event(self, raw: AmiEvent) -> None:
        event = parse_member_event(raw)
        if event is None:
            return
        if self._call_control is not None and self._call_control.keeps_call(event):
            _LOG.info("AgentComplete of a held call ignored linkedid=%s", event.linkedid)
            return
        self._agents.on_member_event(event)
        if event.kind is MemberEventKind.RING_NO_ANSWER:
            self._pops.on_ring_no_answer(event.interface, event.linkedid)

    def _restore_memberships(self, resynced: AmiResynced) -> None:
        if self._restore is not None and not self._restore.done():
            self._restore.cancel()
        self._restore = asyncio.get_running_loop().create_task(
            self._restore_then(resynced), name="agent-desk-restore"
        )

    async def _restore_then(self, resynced: AmiResynced) -> None:
        await self._agents.restore_memberships(resynced.snapshot)
        if self._after_resync is not None:
            await self._after_resync()
