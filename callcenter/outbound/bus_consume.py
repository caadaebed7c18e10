"""AMI events in: the dialer's calls are recognised by their Uniqueid/Linkedid/ActionID prefix.

One subscription (so events are handled in order, and a resync after the events before it):
``Newchannel`` (the call exists), ``OriginateResponse`` (answered, busy, no answer...),
``QueueCallerAbandon``/``AgentConnect`` (progressive mode), ``Newstate`` Up (the answer of a
call adopted after a restart), ``Hangup`` of the ``;1`` half (the line is free) and
``AmiResynced`` (reconcile). The predicate runs on the publisher's side and is cheap: other
calls' events never reach the dialer's queue.
"""

from __future__ import annotations

import logging

from callcenter.ami.events import AmiEvent, AmiResynced
from callcenter.bus import EventBus, Subscription
from callcenter.calls.channel_ids import attempt_of
from callcenter.outbound.dialer import Dialer
from callcenter.outbound.reconcile import reconcile
from hcrm_core.db import Database

_LOG = logging.getLogger(__name__)

CHANNEL_STATE_UP = "6"

_NAMES = frozenset(
    {"Newchannel", "Newstate", "OriginateResponse", "Hangup", "QueueCallerAbandon", "AgentConnect"}
)


class DialerEvents:
    """Feeds the dialer from the bus; ``start`` before the AMI bridge connects."""

    def __init__(self, bus: EventBus, dialer: Dialer, database: Database) -> None:
        self._bus = bus
        self._dialer = dialer
        self._db = database
        self._prefix = dialer.options.channel_prefix
        self._subscription: Subscription[object] | None = None

    def _wanted(self, item: object) -> bool:
        if isinstance(item, AmiResynced):
            return True
        if type(item) is not AmiEvent or item.name not in _NAMES:
            return False
        return item.linkedid.startswith(self._prefix) or item.action_id.startswith(self._prefix)

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(
            object, self._handle, name="dialer", predicate=self._wanted, maxsize=100_000
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    async def _handle(self, item: object) -> None:
        if isinstance(item, AmiResynced):
            if not self._dialer.reconciles:
                # A follower (another process leads and dials) settles nothing: the attempts
                # in flight are the leader's. Outcomes below are first-wins, so a follower
                # that writes one the leader also writes changes nothing.
                return
            settled = await reconcile(self._dialer, item.snapshot, self._db)
            if settled:
                _LOG.info("dialer reconciled %d attempts", len(settled))
            self._dialer.reconciled.set()
            return
        assert isinstance(item, AmiEvent)
        await self._on_event(item)

    async def _on_event(self, event: AmiEvent) -> None:
        dialer = self._dialer
        if event.name == "OriginateResponse":
            attempt_id = attempt_of(self._prefix, event.action_id)
            if attempt_id is not None:
                await dialer.on_originate_response(attempt_id, event.get("Reason"))
            return
        # The ;1 half of the Local pair carries our ChannelId as its Uniqueid.
        attempt_id = attempt_of(self._prefix, event.uniqueid)
        if event.name == "Newchannel" and attempt_id is not None:
            await dialer.on_channel(attempt_id)
        elif event.name == "Newstate" and attempt_id is not None:
            if event.get("ChannelState") == CHANNEL_STATE_UP:
                await dialer.on_up(attempt_id)
        elif event.name == "Hangup" and attempt_id is not None:
            await dialer.on_hangup(attempt_id, event.get("Cause"))
        elif event.name in ("QueueCallerAbandon", "AgentConnect"):
            linked = attempt_of(self._prefix, event.linkedid)
            if linked is not None:
                await dialer.on_agent(linked, connected=event.name == "AgentConnect")
