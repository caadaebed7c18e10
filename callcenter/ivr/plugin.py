"""The FastAGI route table: AGI path -> dialog (names shared with asterisk_conf)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from callcenter.agi.channel import AgiChannel
from callcenter.agi.server import Flow
from callcenter.asterisk.const import AGI_ROUTE_ECHO_DIGITS, AGI_ROUTE_IVR
from callcenter.bus import EventBus
from callcenter.ivr.flows.book import BookingServices
from callcenter.ivr.flows.cancel import CancelServices
from callcenter.ivr.flows.echo import echo_digits
from callcenter.ivr.flows.main_menu import IvrServices, inbound
from callcenter.ivr.speech_input import SpeechInput
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService


async def _echo(agi: AgiChannel) -> None:
    await echo_digits(agi)


def build_routes(
    bus: EventBus,
    *,
    patients: PatientService,
    scheduling: SchedulingService,
    appointments: AppointmentService,
    timezone: str,
    speech: SpeechInput | None = None,
    extra_routes: Mapping[str, Flow] | None = None,
) -> dict[str, Flow]:
    """Routes served to Asterisk; ``timezone`` is the hospital's, for saying slot times."""
    services = IvrServices(
        patients=patients,
        booking=BookingServices(scheduling, appointments, timezone, speech=speech),
        cancelling=CancelServices(appointments, timezone, speech=speech),
    )
    return {
        AGI_ROUTE_ECHO_DIGITS: _echo,
        AGI_ROUTE_IVR: partial(inbound, bus=bus, services=services),
        # Routes of other packages (the dialer's survey dialogs), wired by the server.
        **(extra_routes or {}),
    }
