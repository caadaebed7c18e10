"""The FastAGI route table: AGI path -> dialog (names shared with asterisk_conf)."""

from __future__ import annotations

from functools import partial

from callcenter.asterisk.const import AGI_ROUTE_ECHO_DIGITS, AGI_ROUTE_IVR
from callcenter.events import EventBus
from callcenter.ivr.agi import AgiChannel
from callcenter.ivr.flows.echo import echo_digits
from callcenter.ivr.flows.reception import reception
from callcenter.ivr.server import Flow


async def _echo(agi: AgiChannel) -> None:
    await echo_digits(agi)


def build_routes(bus: EventBus) -> dict[str, Flow]:
    return {
        AGI_ROUTE_ECHO_DIGITS: _echo,
        AGI_ROUTE_IVR: partial(reception, bus=bus),
    }
