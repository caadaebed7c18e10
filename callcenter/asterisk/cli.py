"""``callcenter asterisk ...``: render the configuration and run the sandboxed Asterisk."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from callcenter.asterisk.const import QueueSpec
from callcenter.cli_settings import settings_from
from callcenter.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    return settings_from(ctx)


@click.group()
def asterisk() -> None:
    """Asterisk configuration and the sandboxed Asterisk used by tests and the demo."""


@asterisk.command("render")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the .conf files into (created if missing).",
)
@click.option(
    "--sandbox",
    is_flag=True,
    help="Also render the simulated callers and test users (never for a real site).",
)
@click.option(
    "--queues-from-database",
    is_flag=True,
    help="List the queues kept in the database (/admin/queues) in queues.conf, as the server "
    "writes it; without it, the two default queues.",
)
@click.pass_context
def render(ctx: click.Context, out_dir: Path, sandbox: bool, queues_from_database: bool) -> None:
    """Render manager.conf, extensions.conf, queues.conf, pjsip.conf... from the settings."""
    from callcenter.asterisk.render import RenderError, render_config

    settings = _settings(ctx)
    queues = _stored_queues(settings) if queues_from_database else None
    try:
        written = render_config(settings, out_dir, sandbox=sandbox, queues=queues)
    except RenderError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in written:
        click.echo(path)


def _stored_queues(settings: Settings) -> list[QueueSpec] | None:
    from callcenter.asterisk.queues import stored_queue_specs
    from hcrm_core.db import Database

    async def read() -> list[QueueSpec] | None:
        database = Database(settings.database_url, pool_size=1)
        try:
            return await stored_queue_specs(database)
        finally:
            await database.dispose()

    return asyncio.run(read())


@asterisk.group()
def sandbox() -> None:
    """The Asterisk 22 chroot (Debian unstable) on this machine's loopback; needs root."""


@sandbox.command("up")
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for AMI.")
@click.pass_context
def sandbox_up(ctx: click.Context, timeout: float) -> None:
    """Build the chroot once, then start Asterisk (or reload it if it runs)."""
    from callcenter.asterisk.sandbox import AsteriskSandbox, SandboxError

    box = AsteriskSandbox(_settings(ctx), progress=click.echo)
    try:
        status = box.start(timeout=timeout)
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(status.describe())


@sandbox.command("down")
@click.pass_context
def sandbox_down(ctx: click.Context) -> None:
    """Stop the sandbox Asterisk and unmount its /proc."""
    from callcenter.asterisk.sandbox import AsteriskSandbox, SandboxError

    box = AsteriskSandbox(_settings(ctx), progress=click.echo)
    try:
        box.stop()
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Asterisk sandbox stopped")


@sandbox.command("status")
@click.pass_context
def sandbox_status(ctx: click.Context) -> None:
    """Say whether the sandbox Asterisk runs, with its pid and version (exit 1 if not)."""
    from callcenter.asterisk.sandbox import AsteriskSandbox, SandboxError

    try:
        status = AsteriskSandbox(_settings(ctx)).status()
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(status.describe())
    ctx.exit(0 if status.running else 1)
