"""``callcenter slots extend [--until DATE]``: generate the slots ahead by hand.

The server does the same at start-up and every night (docs/running_the_hospital.md); this is
for a first install, a longer horizon before a busy season, or a check after a change.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import click

from callcenter.cli_settings import settings_from


@click.group()
def slots() -> None:
    """The doctors' bookable slots."""


@slots.command("extend")
@click.option(
    "--until",
    "until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day to create slots for (default: today + booking.horizon_days).",
)
@click.pass_context
def extend(ctx: click.Context, until: datetime | None) -> None:
    """Create the missing slots of every active doctor from today on (idempotent)."""
    from hcrm_core.db import Database
    from hcrm_core.errors import DomainError
    from hcrm_core.migrate import upgrade
    from hcrm_core.services.slot_keeper import SlotKeeper

    settings = settings_from(ctx)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_migrate_url, "head")
    last: date | None = until.date() if until is not None else None

    async def run() -> tuple[int, date]:
        database = Database(settings.database_url)
        try:
            keeper = SlotKeeper(database, settings.booking_policy())
            created = await keeper.extend(last)
            return created, last or keeper.default_until()
        finally:
            await database.dispose()

    try:
        created, through = asyncio.run(run())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{created} slots created (through {through.isoformat()})")
