"""AMI events in: a callback's placeholder call is recognised by its Linkedid prefix.

One subscription (events in order, the reconcile after the events before it): the
``CallcenterCallback`` UserEvents of the ``;1`` half (``dialling``, ``dialled``), the ``;1``
half's ``Hangup`` and ``AmiResynced``.
"""

from __future__ import annotations

import logging

from callcenter.ami.events import AmiEvent, AmiResynced
from callcenter.bus import EventBus, Subscription
from callcenter.callbacks.placer import CallbackPlacer
from callcenter.calls.channel_ids import callback_of

_LOG = logging.getLogger(__name__)
USER_EVENT = "CallcenterCallback"


class CallbackEvents:
    """Feeds the placer from the bus; ``start`` before the AMI bridge connects."""

    def __init__(self, bus: EventBus, placer: CallbackPlacer) -> None:
        self._bus = bus
        self._placer = placer
        self._prefix = placer.options.channel_prefix
        self._subscription: Subscription[object] | None = None

    def _wanted(self, item: object) -> bool:
        if isinstance(item, AmiResynced):
            return True
        if type(item) is not AmiEvent or item.name not in ("UserEvent", "Hangup"):
            return False
        return item.linkedid.startswith(self._prefix)

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(
            object, self._handle, name="callbacks", predicate=self._wanted, maxsize=100_000
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    async def _handle(self, item: object) -> None:
        if isinstance(item, AmiResynced):
            if not self._placer.reconciles:
                return  # a follower: the placements are the leader's to settle
            settled = await self._placer.reconcile(item.snapshot)
            if settled:
                _LOG.info("callbacks reconciled: %d settled", settled)
            return
        assert isinstance(item, AmiEvent)
        cid = item.uniqueid
        # Only the ;1 half (Uniqueid = the placement's channel id) speaks for the placement.
        if callback_of(self._prefix, cid) is None or cid.endswith("-b"):
            return
        if item.name == "Hangup":
            await self._placer.on_hangup(cid)
        elif item.get("UserEvent") == USER_EVENT:
            step = item.get("Step")
            if step == "dialling":
                await self._placer.on_dialling(cid)
            elif step == "dialled":
                await self._placer.on_dialled(cid, item.get("Status"))
