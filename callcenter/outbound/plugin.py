"""Wiring of the outbound parts: the whole graph in one screen (Wazo's ``plugin.py``).

:func:`start` builds the campaign services, the dialer and its event consumer, and the
FastAGI route of the survey dialog Asterisk reaches from the ``callcenter-outbound`` context.
The dialer runs only with a valid hospital caller ID and ``outbound.enabled``, and places calls
only between :meth:`Outbound.start_dialing` and :meth:`Outbound.stop_dialing`: the composition
root starts dialing once the FastAGI server listens and stops it before that server drains.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from zoneinfo import ZoneInfo

from callcenter.agi.server import Flow
from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk.const import AGI_ROUTE_SURVEY
from callcenter.bus import EventBus
from callcenter.outbound.bus_consume import DialerEvents
from callcenter.outbound.channels import TemplateRoute
from callcenter.outbound.dialer import Dialer, DialerOptions
from callcenter.outbound.dialogs import DialogServices, outbound_call
from callcenter.outbound.enrolment import EnrolmentLoop
from callcenter.outbound.question_prompts import QuestionPrompts, SoundsDir
from callcenter.settings import OutboundSettings
from hcrm_core.db import Database
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_answers import AnswerService
from hcrm_core.services.campaigns_attempts import AttemptService
from hcrm_core.services.campaigns_enrolment import EnrolmentService
from hcrm_core.services.leadership import Fence
from hcrm_core.services.opening_hours import OpeningHoursService
from hcrm_core.services.prompt_renders import PromptRenders

_LOG = logging.getLogger(__name__)


@dataclass
class Outbound:
    campaigns: CampaignService
    attempts: AttemptService
    # AGI path -> dialog, served by the FastAGI server beside the IVR's routes.
    routes: dict[str, Flow] = field(default_factory=dict)
    dialer: Dialer | None = None
    events: DialerEvents | None = None
    # Renders a campaign's questions when the console saves it (None: no sounds directory).
    prompts: QuestionPrompts | None = None
    # Continuous enrolment, running while dialing does (enrolment.py).
    enrolment: EnrolmentLoop | None = None

    async def start_dialing(self, fence: Fence | None = None) -> None:
        """Let the dialer place calls: only once the FastAGI server listens, or an answered
        patient would reach no dialog (and be hung up). Several processes: only the leader
        dials and enrols, fenced by its ``fence`` (callcenter/cluster/leader.py)."""
        if self.dialer is not None:
            await self.dialer.start(fence)
        if self.enrolment is not None:
            await self.enrolment.start(fence)

    def follow(self) -> None:
        """Another process leads: this one neither dials nor settles attempts."""
        if self.dialer is not None:
            self.dialer.follow()

    async def stop_dialing(self) -> None:
        """Originate nothing more; the dialer's events keep flowing until :meth:`stop`, so the
        campaign calls still in progress (their dialogs draining) are followed to their end."""
        if self.enrolment is not None:
            await self.enrolment.stop()
        if self.dialer is not None:
            await self.dialer.stop()

    async def stop(self) -> None:
        await self.stop_dialing()
        if self.events is not None:
            await self.events.stop()
        if self.prompts is not None:
            await self.prompts.stop()


def dialer_options(
    settings: OutboundSettings,
    *,
    timezone: ZoneInfo,
    hospital_name: str,
    caller_id_number: str,
    agent_wrapup_seconds: float,
) -> DialerOptions:
    return DialerOptions(
        timezone=timezone,
        hospital_name=hospital_name,
        caller_id_number=caller_id_number,
        channel_prefix=settings.channel_prefix,
        tick_seconds=settings.tick_seconds,
        agent_wrapup_seconds=agent_wrapup_seconds,
        agi_url=settings.agi_url or None,
    )


async def start(
    settings: OutboundSettings,
    *,
    timezone: ZoneInfo,
    hospital_name: str,
    caller_id_number: str,
    agent_wrapup_seconds: float,
    policy: BookingPolicy,
    bus: EventBus,
    ami: AmiBridge,
    database: Database,
    appointments: AppointmentService,
    sounds_dir: SoundsDir | None = None,
) -> Outbound:
    """Start before the AMI bridge connects, so the first resync reconciles the attempts;
    calls are placed only after :meth:`Outbound.start_dialing`.

    ``timezone``, ``hospital_name`` and ``caller_id_number`` are the hospital's (calling
    windows, what the dialog says, the caller ID shown); ``agent_wrapup_seconds`` the agents'.
    ``sounds_dir`` (language -> Asterisk's sounds directory on this host) lets the console's
    saves render the campaigns' question prompts.
    """
    campaigns = CampaignService(database, policy)
    attempts = AttemptService(database)
    outbound = Outbound(
        campaigns,
        attempts,
        routes={
            AGI_ROUTE_SURVEY: survey_route(
                settings,
                timezone=timezone.key,
                bus=bus,
                attempts=attempts,
                appointments=appointments,
            )
        },
        prompts=(
            QuestionPrompts(sounds_dir, renders=PromptRenders(database))
            if sounds_dir is not None
            else None
        ),
    )
    if outbound.prompts is not None:
        await outbound.prompts.resume()
    if not settings.enabled:
        _LOG.info("outbound dialer disabled (outbound.enabled = false)")
        return outbound
    if not caller_id_number:
        _LOG.warning("outbound dialer off: set hospital.caller_id_number (a valid caller ID)")
        return outbound
    dialer = Dialer(
        ami=ami,
        campaigns=campaigns,
        attempts=attempts,
        options=dialer_options(
            settings,
            timezone=timezone,
            hospital_name=hospital_name,
            caller_id_number=caller_id_number,
            agent_wrapup_seconds=agent_wrapup_seconds,
        ),
        route=TemplateRoute(settings.dial_channel),
    )
    events = DialerEvents(bus, dialer, database)
    await events.start()
    outbound.dialer, outbound.events = dialer, events
    outbound.enrolment = EnrolmentLoop(EnrolmentService(database, policy), settings.enrol_seconds)
    return outbound


def survey_route(
    settings: OutboundSettings,
    *,
    timezone: str,
    bus: EventBus,
    attempts: AttemptService,
    appointments: AppointmentService,
) -> Flow:
    """The survey dialog; ``timezone`` is the hospital's, for saying appointment times."""
    # The dialog's steps go to the call log like the IVR's: the tracker knows a campaign call
    # by its Linkedid (the attempt's ChannelId), so they do not make it an inbound call.
    services = DialogServices(
        attempts=attempts,
        answers=AnswerService(attempts.database),
        appointments=appointments,
        bus=bus,
        timezone=timezone,
        channel_prefix=settings.channel_prefix,
        hours=OpeningHoursService(attempts.database, ZoneInfo(timezone)),
    )
    flow: Flow = partial(outbound_call, services=services)
    return flow
