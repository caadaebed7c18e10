"""``callcenter reports rebuild --from DATE --to DATE [--write]``: recompute the call log's
facts from the stored AMI events and show (or correct) what differs (docs/reports.md)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import click

from callcenter.cli_settings import settings_from

_SHOWN = 20


@click.group()
def reports() -> None:
    """Reports: figures recomputed from what Asterisk said."""


@reports.command("rebuild")
@click.option(
    "--from",
    "first",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="First day (the hospital's local date).",
)
@click.option(
    "--to",
    "last",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="Last day, included.",
)
@click.option("--write", is_flag=True, help="Correct the stored facts that differ.")
@click.pass_context
def rebuild(ctx: click.Context, first: datetime, last: datetime, write: bool) -> None:
    """Fold every call that started in the period again from its stored AMI events and
    compare its facts (queue, waits, answer, abandon, end) with the call log."""
    from callcenter.asterisk.const import CONTEXT_INBOUND
    from callcenter.calls.rebuild import rebuild_calls
    from hcrm_core.db import Database
    from hcrm_core.services.reports_period import local_midnight

    if first > last:
        raise click.BadParameter("must not be after --to", param_hint="--from")
    settings = settings_from(ctx)
    start = local_midnight(first.date(), settings.tz)
    end = local_midnight(last.date() + timedelta(days=1), settings.tz)

    async def run():  # type: ignore[no-untyped-def]
        database = Database(settings.database_url)
        try:
            return await rebuild_calls(
                database,
                start,
                end,
                inbound_contexts=[CONTEXT_INBOUND],
                campaign_prefix=settings.outbound.channel_prefix,
                write=write,
            )
        finally:
            await database.dispose()

    result = asyncio.run(run())
    click.echo(
        f"{result.calls} calls, {result.events} events in {result.seconds:.2f} s "
        f"({result.events_per_second:,.0f} events/s); "
        f"{len(result.differences)} differing facts in "
        f"{len({d.linkedid for d in result.differences})} calls"
        + (f", {result.written} calls corrected" if write else "")
    )
    if result.ended_without_hangup:
        click.echo(
            f"{result.ended_without_hangup} calls ended without a Hangup event "
            "(closed by a reconciliation): their end is kept"
        )
    for diff in result.differences[:_SHOWN]:
        click.echo(
            f"  {diff.linkedid} {diff.field}: stored {diff.stored!r}, events say {diff.rebuilt!r}"
        )
    if len(result.differences) > _SHOWN:
        click.echo(f"  ... and {len(result.differences) - _SHOWN} more")
