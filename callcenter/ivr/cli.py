"""``callcenter prompts build``: render the IVR prompts into Asterisk's sounds directories."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from callcenter.cli_settings import settings_from
from callcenter.settings import Settings

if TYPE_CHECKING:
    from hcrm_core.models import Department, Doctor
    from hcrm_core.services.opening_hours import ClosedOptions


@dataclass
class _Names:
    departments: list[Department] = field(default_factory=list)
    doctors: list[Doctor] = field(default_factory=list)
    # Queues the main menu offers by key: (name, display name).
    queues: list[tuple[str, str]] = field(default_factory=list)
    # Queues' own closed messages (opening hours).
    closed: list[ClosedOptions] = field(default_factory=list)


def _settings(ctx: click.Context) -> Settings:
    return settings_from(ctx)


async def _database_names(settings: Settings) -> _Names:
    """Departments and doctors to speak; none when the database is not set up yet."""
    from sqlalchemy.exc import SQLAlchemyError

    from hcrm_core.db import Database
    from hcrm_core.services.opening_hours import OpeningHoursService
    from hcrm_core.services.queues import list_queues
    from hcrm_core.services.scheduling import SchedulingService

    database = Database(settings.database_url)
    try:
        scheduling = SchedulingService(database, settings.booking_policy())
        queues = await list_queues(database, active_only=True)
        return _Names(
            list(await scheduling.list_departments()),
            list(await scheduling.list_doctors()),
            [(q.name, q.display_name) for q in queues if q.menu_digit not in (None, "0")],
            closed=await OpeningHoursService(database, settings.tz).all_options(),
        )
    except SQLAlchemyError:
        return _Names()
    finally:
        await database.dispose()


@click.group()
def prompts() -> None:
    """IVR prompts (text-to-speech: Piper for English, espeak-ng for Mandarin; 8 kHz WAV)."""


@prompts.command("build")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Sounds directory to write into, one sub-directory per language (default: the "
    "configured Asterisk's sounds directory, or the sandbox's with --sandbox).",
)
@click.option("--sandbox", is_flag=True, help="Write into the sandboxed Asterisk's sounds.")
@click.option(
    "--language",
    "languages",
    multiple=True,
    type=click.Choice(["en", "zh"]),
    help="Only this language (repeatable; default: every language).",
)
@click.option(
    "--no-database", is_flag=True, help="Skip department and doctor names from the database."
)
@click.pass_context
def build(
    ctx: click.Context,
    out_dir: Path | None,
    sandbox: bool,
    languages: tuple[str, ...],
    no_database: bool,
) -> None:
    """Render every prompt that changed since the last build (8 kHz mono WAV), in English and
    Mandarin, with the digits, day and month sounds Asterisk's SAY needs in the same voice."""
    from callcenter.agi.prompt_audio import PromptBuildError, build_prompts, sounds_language_dir
    from callcenter.ivr.after_hours_prompts import closed_message_prompts
    from callcenter.ivr.build_prompts import language_prompts
    from callcenter.ivr.prompts import LANGUAGES

    settings = _settings(ctx)
    names = _Names() if no_database else asyncio.run(_database_names(settings))
    for language in languages or LANGUAGES:
        target = (
            out_dir / language
            if out_dir is not None
            else sounds_language_dir(settings, sandbox=sandbox, language=language)
        )
        catalogue = language_prompts(language, names.departments, names.doctors, names.queues)
        catalogue.update(closed_message_prompts(language, names.closed))
        try:
            with click.progressbar(length=len(catalogue), label=f"rendering {language}") as bar:
                result = build_prompts(catalogue, target, on_progress=lambda _n: bar.update(1))
        except PromptBuildError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(
            f"{language}: {len(result.rendered)} rendered, {len(result.skipped)} unchanged "
            f"in {result.out_dir}"
        )
