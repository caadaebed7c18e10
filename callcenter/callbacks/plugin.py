"""Wiring of the callback slice: the placer and its events (Wazo's ``plugin.py``).

:func:`start` runs before the AMI bridge connects (the first resync reconciles what a previous
run left in Asterisk); callbacks are placed only between :meth:`Callbacks.start_placing` and
:meth:`Callbacks.stop_placing`. The IVR's callback key (callcenter/ivr/flows/queue_callback.py)
stores the requests this places.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.ami.bridge import AmiBridge
from callcenter.bus import EventBus
from callcenter.callbacks.bus_consume import CallbackEvents
from callcenter.callbacks.placer import CallbackPlacer, PlacerOptions
from callcenter.settings import CallbacksSettings
from hcrm_core.db import Database
from hcrm_core.phones import is_e164
from hcrm_core.services.callbacks import CallbackRules, CallbackService
from hcrm_core.services.leadership import Fence

_LOG = logging.getLogger(__name__)


@dataclass
class Callbacks:
    service: CallbackService
    placer: CallbackPlacer | None = None
    events: CallbackEvents | None = None

    async def start_placing(self, fence: Fence | None = None) -> None:
        """Place callbacks; several processes: the leader only, fenced by ``fence``."""
        if self.placer is not None:
            await self.placer.start(fence)

    def follow(self) -> None:
        """Another process leads: this one neither places nor settles callbacks."""
        if self.placer is not None:
            self.placer.follow()

    async def stop_placing(self) -> None:
        if self.placer is not None:
            await self.placer.stop()

    async def stop(self) -> None:
        await self.stop_placing()
        if self.events is not None:
            await self.events.stop()


def template_route(template: str) -> Callable[[str], str]:
    """``template`` (outbound.dial_channel) with ``{number}`` replaced by a checked E.164."""

    def route(number: str) -> str:
        if not is_e164(number):
            raise ValueError("the callback number is not E.164")
        return template.replace("{number}", number)

    return route


def callback_service(settings: CallbacksSettings, database: Database) -> CallbackService:
    rules = CallbackRules(max_attempts=settings.max_attempts, retry_minutes=settings.retry_minutes)
    return CallbackService(database, rules)


async def start(
    settings: CallbacksSettings,
    *,
    bus: EventBus,
    ami: AmiBridge,
    database: Database,
    dial_channel: str,
    agi_url: str | None = None,
) -> Callbacks:
    """``dial_channel`` is where patients' numbers are dialled (outbound.dial_channel)."""
    callbacks = Callbacks(callback_service(settings, database))
    if not settings.enabled:
        _LOG.info("queue callbacks disabled (callbacks.enabled = false)")
        return callbacks
    placer = CallbackPlacer(
        ami=ami,
        callbacks=callbacks.service,
        options=PlacerOptions(
            channel_prefix=settings.channel_prefix,
            ring_seconds=settings.ring_seconds,
            max_wait_seconds=settings.max_wait_minutes * 60.0,
            replace_seconds=settings.replace_seconds,
            tick_seconds=settings.tick_seconds,
            agi_url=agi_url,
        ),
        route=template_route(dial_channel),
    )
    events = CallbackEvents(bus, placer)
    await events.start()
    callbacks.placer, callbacks.events = placer, events
    return callbacks
