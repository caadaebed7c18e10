"""The FastAGI route table: AGI path -> dialog (names shared with asterisk_conf)."""

from __future__ import annotations

from callcenter.asterisk.const import AGI_ROUTE_ECHO_DIGITS
from callcenter.ivr.agi import AgiChannel
from callcenter.ivr.flows.echo import echo_digits
from callcenter.ivr.server import Flow


async def _echo(agi: AgiChannel) -> None:
    await echo_digits(agi)


def build_routes() -> dict[str, Flow]:
    return {AGI_ROUTE_ECHO_DIGITS: _echo}
