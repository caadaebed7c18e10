"""Wiring of the IVR: speech input and the FastAGI route table (AGI path -> dialog).

:func:`start` is the slice's start for the server: it loads speech input when
``speech.enabled`` (a Vosk model, seconds in a worker thread) and returns the routes with the
handle that stops speech. :func:`build_routes` is the table alone, for the classic AGI script
and tests. Route names are shared with ``asterisk_conf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

from callcenter.agi.channel import AgiChannel
from callcenter.agi.server import Flow
from callcenter.asterisk.const import (
    AGI_ROUTE_ECHO_DIGITS,
    AGI_ROUTE_IVR,
    AGI_ROUTE_QUEUE_CALLBACK,
    AGI_ROUTE_QUEUE_OVERFLOW,
)
from callcenter.bus import EventBus
from callcenter.ivr.flows.after_hours import AfterHoursServices
from callcenter.ivr.flows.book import BookingServices
from callcenter.ivr.flows.cancel import CancelServices
from callcenter.ivr.flows.echo import echo_digits
from callcenter.ivr.flows.main_menu import IvrServices, inbound
from callcenter.ivr.flows.overflow import queue_overflow
from callcenter.ivr.flows.queue_callback import CallbackDialogServices, queue_callback
from callcenter.ivr.lockout import IdentityLockout
from callcenter.ivr.queue_handoff import QueueRouting
from callcenter.ivr.speech_input import SpeechByLanguage
from callcenter.settings import AsteriskSettings, Settings, SpeechSettings
from hcrm_core.db import Database
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.opening_hours import OpeningHoursService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService


def after_hours_services(database: Database, settings: Settings) -> AfterHoursServices:
    """The closed branch from the site's settings: hours in the hospital's zone, voicemails
    beside the call recordings, the emergency number dialled like any outside number."""
    return AfterHoursServices(
        OpeningHoursService(database, settings.tz),
        settings.hospital.timezone,
        settings.asterisk.recordings_asterisk_path,
        dial_channel=settings.outbound.dial_channel,
    )


async def _echo(agi: AgiChannel) -> None:
    await echo_digits(agi)


def build_routes(
    bus: EventBus,
    *,
    patients: PatientService,
    scheduling: SchedulingService,
    appointments: AppointmentService,
    timezone: str,
    speech: SpeechByLanguage | None = None,
    extra_routes: Mapping[str, Flow] | None = None,
    lockout: IdentityLockout | None = None,
    ask_recording_consent: bool = False,
    after_hours: AfterHoursServices | None = None,
    routing: QueueRouting | None = None,
    callbacks: CallbackDialogServices | None = None,
) -> dict[str, Flow]:
    """Routes served to Asterisk; ``timezone`` is the hospital's, for saying slot times.

    ``lockout`` counts failed identity checks per patient across calls; the server and the
    classic AGI script always pass one (tests may leave it out). ``ask_recording_consent``
    (``recording.consent = "ask"``) asks callers before the hand-off to an agent."""
    services = IvrServices(
        patients=patients,
        booking=BookingServices(scheduling, appointments, timezone, speech=speech),
        cancelling=CancelServices(appointments, timezone, speech=speech),
        lockout=lockout,
        ask_recording_consent=ask_recording_consent,
        after_hours=after_hours,
        routing=routing,
    )
    routes: dict[str, Flow] = {}
    if callbacks is not None:
        # The callback key pressed while waiting in a queue (flows/queue_callback.py).
        routes[AGI_ROUTE_QUEUE_CALLBACK] = partial(queue_callback, bus=bus, services=callbacks)
    return {
        **routes,
        AGI_ROUTE_ECHO_DIGITS: _echo,
        AGI_ROUTE_IVR: partial(inbound, bus=bus, services=services),
        # A queue's message overflow: the dialplan comes back here past the maximum wait.
        AGI_ROUTE_QUEUE_OVERFLOW: partial(queue_overflow, bus=bus, after_hours=after_hours),
        # Routes of other packages (the dialer's survey dialogs), wired by the server.
        **(extra_routes or {}),
    }


@dataclass(slots=True)
class Ivr:
    """The IVR's routes for the FastAGI server, and the speech input they share (or None)."""

    routes: dict[str, Flow] = field(default_factory=dict)
    speech: SpeechByLanguage | None = None

    async def stop(self) -> None:
        """Stop speech input's worker threads (after the FastAGI server has drained)."""
        if self.speech is not None:
            await self.speech.stop()


async def start(
    settings: SpeechSettings,
    *,
    asterisk: AsteriskSettings,
    bus: EventBus,
    patients: PatientService,
    scheduling: SchedulingService,
    appointments: AppointmentService,
    timezone: str,
    lockout: IdentityLockout,
    ask_recording_consent: bool = False,
    after_hours: AfterHoursServices | None = None,
    routing: QueueRouting | None = None,
    callbacks: CallbackDialogServices | None = None,
) -> Ivr:
    """Load speech input if enabled and build the routes; ``timezone`` is the hospital's.

    ``asterisk`` locates speech recordings (Asterisk's path and ours); a missing or bad model
    raises here, before the FastAGI server listens.
    """
    speech = await SpeechByLanguage.start(settings, asterisk) if settings.enabled else None
    routes = build_routes(
        bus,
        patients=patients,
        scheduling=scheduling,
        appointments=appointments,
        timezone=timezone,
        speech=speech,
        lockout=lockout,
        ask_recording_consent=ask_recording_consent,
        after_hours=after_hours,
        routing=routing,
        callbacks=callbacks,
    )
    return Ivr(routes, speech)
