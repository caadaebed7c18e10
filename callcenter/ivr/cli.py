"""``callcenter prompts build``: render the IVR prompts into Asterisk's sounds directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from callcenter.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    # Imported here: callcenter.cli imports this module to register the group.
    from callcenter.cli import _load

    return _load(ctx)


async def _database_prompts(settings: Settings) -> dict[str, str]:
    """Department and doctor names to speak; empty when the database is not set up yet."""
    from sqlalchemy.exc import SQLAlchemyError

    from callcenter.ivr.build_prompts import database_prompts
    from hcrm_core.db import Database
    from hcrm_core.services.scheduling import SchedulingService

    database = Database(settings.database_url)
    try:
        scheduling = SchedulingService(database, settings.booking_policy())
        departments = await scheduling.list_departments()
        doctors = await scheduling.list_doctors()
    except SQLAlchemyError:
        return {}
    finally:
        await database.dispose()
    return database_prompts(
        ((d.code, d.name) for d in departments), ((d.id, d.display_name) for d in doctors)
    )


@click.group()
def prompts() -> None:
    """IVR prompts (text-to-speech with espeak-ng, converted for Asterisk)."""


@prompts.command("build")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Language sounds directory to write into (default: the configured Asterisk's "
    "sounds/en, or the sandbox's with --sandbox).",
)
@click.option("--sandbox", is_flag=True, help="Write into the sandboxed Asterisk's sounds.")
@click.option(
    "--no-database", is_flag=True, help="Skip department and doctor names from the database."
)
@click.pass_context
def build(ctx: click.Context, out_dir: Path | None, sandbox: bool, no_database: bool) -> None:
    """Render every prompt that changed since the last build (8 kHz mono WAV)."""
    from callcenter.ivr.build_prompts import PromptBuildError, build_prompts, sounds_language_dir
    from callcenter.ivr.prompts import CATALOGUE

    settings = _settings(ctx)
    target = out_dir or sounds_language_dir(settings, sandbox=sandbox)
    catalogue = dict(CATALOGUE)
    if not no_database:
        catalogue.update(asyncio.run(_database_prompts(settings)))
    try:
        with click.progressbar(length=len(catalogue), label="rendering prompts") as bar:
            result = build_prompts(catalogue, target, on_progress=lambda _name: bar.update(1))
    except PromptBuildError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{len(result.rendered)} rendered, {len(result.skipped)} unchanged in {result.out_dir}"
    )
