"""``callcenter campaign ...``: operator commands for outbound campaigns (docs/outbound.md).

The running server's dialer picks up a campaign as soon as it is ``running``: these commands
only change the database, like the console does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from callcenter.cli_settings import settings_from
from callcenter.settings import Settings
from hcrm_core.actors import Actor
from hcrm_core.models import Campaign, CampaignKind

T = TypeVar("T")
_CLI_ACTOR = Actor("cli")


def _settings(ctx: click.Context) -> Settings:
    return settings_from(ctx)


def _run(ctx: click.Context, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(service)`` on a CampaignService over the configured database."""
    from hcrm_core.db import Database
    from hcrm_core.errors import DomainError
    from hcrm_core.services.campaigns import CampaignService

    settings = _settings(ctx)

    async def main() -> T:
        database = Database(settings.database_url)
        try:
            return await work(CampaignService(database, settings.booking_policy()))
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


@click.group()
def campaign() -> None:
    """Outbound campaigns: reminders, follow-ups, surveys."""


@campaign.command("list")
@click.pass_context
def list_campaigns(ctx: click.Context) -> None:
    """Every campaign with its progress."""

    async def work(service: Any) -> list[str]:
        lines = []
        for item in await service.all():
            p = await service.progress(item.id)
            lines.append(
                f"{item.id}\t{item.status.value}\t{item.kind.value}\t{item.name}\t"
                f"scheduled={p.scheduled} dialled={p.dialled} answered={p.answered} "
                f"completed={p.completed} failed={p.failed} escalated={p.escalated}"
            )
        return lines

    for line in _run(ctx, work):
        click.echo(line)


@campaign.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice([k.value for k in CampaignKind]), required=True)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="JSON file with targets, pacing, window, retries and questions (docs/outbound.md).",
)
@click.pass_context
def create(ctx: click.Context, name: str, kind: str, settings_file: Path | None) -> None:
    """Create a draft campaign; prints its id."""
    values: dict[str, Any] = {}
    if settings_file is not None:
        try:
            values = json.loads(settings_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{settings_file}: not valid JSON ({exc.msg})") from exc

    async def work(service: Any) -> int:
        created = await service.create(name, kind, values, _CLI_ACTOR)
        return int(created.id)

    click.echo(_run(ctx, work))


def _status_command(action: str, help_text: str) -> click.Command:
    @click.argument("campaign_id", type=int)
    @click.pass_context
    def command(ctx: click.Context, campaign_id: int) -> None:
        async def work(service: Any) -> object:
            return await getattr(service, action)(campaign_id, _CLI_ACTOR)

        result = _run(ctx, work)
        if action == "start":
            click.echo(f"running; {result} attempts scheduled")
        elif action == "stop":
            click.echo(f"stopped; {result} attempts cancelled")
        else:
            click.echo("paused")

    return click.command(action, help=help_text)(command)


campaign.add_command(_status_command("start", "Start a draft (schedules targets) or resume."))
campaign.add_command(_status_command("pause", "Stop dialling; calls in progress finish."))
campaign.add_command(_status_command("stop", "End the campaign; cancels what is not dialled."))


@campaign.command("results")
@click.argument("campaign_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="CSV file to write.")
@click.pass_context
def results(ctx: click.Context, campaign_id: int, out: Path | None) -> None:
    """The results as CSV (one row per attempt, answers as columns)."""
    from callcenter.outbound.export import results_csv

    async def work(service: Any) -> str:
        return results_csv(await service.get(campaign_id), await service.results(campaign_id))

    text = _run(ctx, work)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"written to {out}")


@campaign.command("prompts")
@click.option("--sandbox", is_flag=True, help="Write into the sandboxed Asterisk's sounds.")
@click.pass_context
def build_campaign_prompts(ctx: click.Context, sandbox: bool) -> None:
    """Render the dialer's prompts and every campaign's questions, in every prompt language."""
    from callcenter.agi.prompt_audio import PromptBuildError, build_prompts, sounds_language_dir
    from callcenter.outbound.prompts import all_prompts

    settings = _settings(ctx)

    async def work(service: Any) -> list[Campaign]:
        return list(await service.all())

    per_language = all_prompts(settings.hospital.name, _run(ctx, work))
    for language, catalogue in per_language.items():
        target = sounds_language_dir(settings, sandbox=sandbox, language=language)
        try:
            result = build_prompts(catalogue, target)
        except PromptBuildError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{language}: {len(result.rendered)} rendered, {len(result.skipped)} unchanged")
