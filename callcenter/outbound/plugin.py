"""Wiring of the outbound parts: the whole graph in one screen (Wazo's ``plugin.py``).

``start_outbound`` builds the campaign services, the dialer and its event consumer; the dialer
runs only with a valid hospital caller ID and ``outbound.enabled``. ``survey_route`` is the
FastAGI flow Asterisk reaches from the ``callcenter-outbound`` context.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from callcenter.agi.server import Flow
from callcenter.ami.bridge import AmiBridge
from callcenter.bus import EventBus
from callcenter.outbound.bus_consume import DialerEvents
from callcenter.outbound.channels import TemplateRoute
from callcenter.outbound.dialer import Dialer, DialerOptions
from callcenter.outbound.dialogs import DialogServices, outbound_call
from callcenter.settings import Settings
from hcrm_core.db import Database
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_answers import AnswerService
from hcrm_core.services.campaigns_attempts import AttemptService

_LOG = logging.getLogger(__name__)


@dataclass
class Outbound:
    campaigns: CampaignService
    attempts: AttemptService
    dialer: Dialer | None = None
    events: DialerEvents | None = None

    async def start_dialing(self) -> None:
        """Let the dialer place calls: only once the FastAGI server listens, or an answered
        patient would reach no dialog (and be hung up)."""
        if self.dialer is not None:
            await self.dialer.start()

    async def stop_dialing(self) -> None:
        """Originate nothing more; the dialer's events keep flowing until :meth:`stop`, so the
        campaign calls still in progress (their dialogs draining) are followed to their end."""
        if self.dialer is not None:
            await self.dialer.stop()

    async def stop(self) -> None:
        await self.stop_dialing()
        if self.events is not None:
            await self.events.stop()


def dialer_options(settings: Settings) -> DialerOptions:
    return DialerOptions(
        timezone=settings.tz,
        hospital_name=settings.hospital.name,
        caller_id_number=settings.hospital.caller_id_number,
        channel_prefix=settings.outbound.channel_prefix,
        tick_seconds=settings.outbound.tick_seconds,
        agent_wrapup_seconds=settings.agents.wrapup_seconds,
        agi_url=settings.outbound.agi_url or None,
    )


async def start_outbound(
    settings: Settings, *, bus: EventBus, ami: AmiBridge, database: Database
) -> Outbound:
    """Start before the AMI bridge connects, so the first resync reconciles the attempts;
    calls are placed only after :meth:`Outbound.start_dialing`."""
    outbound = Outbound(
        CampaignService(database, settings.booking_policy()), AttemptService(database)
    )
    if not settings.outbound.enabled:
        _LOG.info("outbound dialer disabled (outbound.enabled = false)")
        return outbound
    if not settings.hospital.caller_id_number:
        _LOG.warning("outbound dialer off: set hospital.caller_id_number (a valid caller ID)")
        return outbound
    dialer = Dialer(
        ami=ami,
        campaigns=outbound.campaigns,
        attempts=outbound.attempts,
        options=dialer_options(settings),
        route=TemplateRoute(settings.outbound.dial_channel),
    )
    events = DialerEvents(bus, dialer, database)
    events.start()
    outbound.dialer, outbound.events = dialer, events
    return outbound


def survey_route(
    settings: Settings,
    *,
    bus: EventBus,
    attempts: AttemptService,
    appointments: AppointmentService,
) -> Flow:
    # The dialog's steps go to the call log like the IVR's: the tracker knows a campaign call
    # by its Linkedid (the attempt's ChannelId), so they do not make it an inbound call.
    services = DialogServices(
        attempts=attempts,
        answers=AnswerService(attempts.database),
        appointments=appointments,
        bus=bus,
        timezone=settings.hospital.timezone,
        channel_prefix=settings.outbound.channel_prefix,
    )
    flow: Flow = partial(outbound_call, services=services)
    return flow
