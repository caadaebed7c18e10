"""The ``callcenter`` command: the server and its operator tools.

Each sub-command loads the settings once and passes them down. ``serve`` and ``demo`` run the
server through ``callcenter.server``, its composition root: the one place that wires every
layer together, the web console included (this module never imports the console).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from callcenter.cli_settings import settings_from as _load


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML configuration file (default: $CALLCENTER_CONFIG, else built-in defaults).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Hospital call-center server: Asterisk bridge, IVR, agent console and HCRM core."""
    from callcenter.server.files import restrict_umask

    # Every command may create patient data or secrets (a database, an export): private.
    # (Restored when the command ends, for callers that run it in-process, like tests.)
    previous = restrict_umask()
    ctx.call_on_close(lambda: os.umask(previous))
    ctx.ensure_object(dict)["config_path"] = config_path


@cli.command()
@click.option("--seed-demo/--no-seed-demo", default=False, help="Seed demo data first if empty.")
@click.pass_context
def serve(ctx: click.Context, seed_demo: bool) -> None:
    """Run the server (console, API, AMI bridge, FastAGI) until SIGTERM or Ctrl-C."""
    import uvloop

    from callcenter.server.run import run_server
    from callcenter.server.single_process import AnotherServerRunning

    settings = _load(ctx)
    # uvloop: the same asyncio, with a quarter less CPU per database round trip and AMI event.
    try:
        uvloop.run(run_server(settings, seed_demo=seed_demo))
    except AnotherServerRunning as exc:
        raise click.ClickException(str(exc)) from exc


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the Alembic migrations up to REVISION."""
    from hcrm_core.migrate import upgrade

    settings = _load(ctx)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_migrate_url, revision)
    click.echo(f"database at {revision}: {_safe_url(settings.database_migrate_url)}")


@db.command("roles")
@click.option("--owner", required=True, help="Role that owns the schema and runs migrations.")
@click.option("--app", "app_role", required=True, help="Role the server serves as.")
@click.option("--apply", "apply_now", is_flag=True, help="Run the SQL instead of printing it.")
@click.option(
    "--admin-url",
    default=None,
    help="Connect as this role to apply (a superuser; default: database.migrate_url, else url).",
)
@click.pass_context
def db_roles(
    ctx: click.Context, owner: str, app_role: str, apply_now: bool, admin_url: str | None
) -> None:
    """Print (or --apply) the PostgreSQL roles and grants: OWNER owns the schema and
    migrates, APP serves and may only read and append to the audit log (docs/database.md)."""
    from hcrm_core.db_roles import apply_roles, role_script
    from hcrm_core.errors import ValidationFailed

    try:
        if not apply_now:
            click.echo(role_script(owner, app_role), nl=False)
            return
        url = admin_url or _load(ctx).database_migrate_url
        asyncio.run(apply_roles(url, owner, app_role))
    except ValidationFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"roles {owner!r} (owner) and {app_role!r} (app) set up on {_safe_url(url)}")


@cli.command()
@click.option("--demo", is_flag=True, required=True, help="Create the demo hospital.")
@click.option("--patients", default=5000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", "rng_seed", default=2026, show_default=True, help="Random seed.")
@click.option("--if-empty", is_flag=True, help="Succeed quietly when the hospital exists already.")
@click.pass_context
def seed(ctx: click.Context, demo: bool, patients: int, rng_seed: int, if_empty: bool) -> None:
    """Create a realistic, deterministic demo hospital (refuses a database that has data)."""
    from hcrm_core.db import Database
    from hcrm_core.migrate import upgrade
    from hcrm_core.seed import DemoAlreadySeeded, seed_demo

    settings = _load(ctx)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_migrate_url, "head")

    async def _run() -> None:
        database = Database(settings.database_url)
        try:
            with click.progressbar(length=100, label="seeding demo hospital") as bar:
                done = 0

                def progress(fraction: float) -> None:
                    nonlocal done
                    target = int(fraction * 100)
                    bar.update(target - done)
                    done = target

                summary = await seed_demo(
                    database,
                    settings.booking_policy(),
                    patients=patients,
                    seed=rng_seed,
                    progress=progress,
                )
        finally:
            await database.dispose()
        click.echo(summary)

    try:
        asyncio.run(_run())
    except DemoAlreadySeeded as exc:
        if if_empty:
            click.echo("demo hospital already present; nothing to do")
            return
        raise click.ClickException(str(exc)) from exc


@cli.group()
def user() -> None:
    """Console users."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["agent", "supervisor", "admin"]), required=True)
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--extension", default=None, help="Agent phone extension.")
@click.password_option(help="Password (prompted when omitted).")
@click.pass_context
def user_add(
    ctx: click.Context,
    username: str,
    role: str,
    display_name: str | None,
    extension: str | None,
    password: str,
) -> None:
    """Create a console user with a hashed password."""
    from hcrm_core.db import Database
    from hcrm_core.errors import DomainError
    from hcrm_core.models import Role
    from hcrm_core.services import users

    settings = _load(ctx)

    async def _run() -> int:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                created = await users.create_user(
                    session,
                    username=username,
                    password=password,
                    role=Role(role),
                    display_name=display_name,
                    extension=extension,
                )
                return created.id
        finally:
            await database.dispose()

    try:
        user_id = asyncio.run(_run())
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {username!r} ({role}) created with id {user_id}")


@user.command("set-extension")
@click.argument("username")
@click.argument("extension")
@click.pass_context
def user_set_extension(ctx: click.Context, username: str, extension: str) -> None:
    """Assign USERNAME the phone EXTENSION ('none' clears it): the only one they sign in on."""
    from hcrm_core.actors import Actor
    from hcrm_core.db import Database
    from hcrm_core.errors import DomainError
    from hcrm_core.services import users

    settings = _load(ctx)
    wanted = None if extension.strip().lower() == "none" else extension

    async def _run() -> None:
        database = Database(settings.database_url)
        try:
            user = await users.user_by_name(database, username)
            await users.set_extension(database, user.id, wanted, Actor("cli"))
        finally:
            await database.dispose()

    try:
        asyncio.run(_run())
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {username!r} now has extension {wanted or '(none)'}")


@cli.command()
@click.option(
    "--mean-gap",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=1.0),
    help="Average seconds between two simulated patients' calls.",
)
@click.option("--no-callers", is_flag=True, help="Bring everything up, but place no calls.")
@click.pass_context
def demo(ctx: click.Context, mean_gap: float, no_callers: bool) -> None:
    """Run the whole product on the sandboxed Asterisk, with simulated patients calling in.

    Starts the sandbox (root only; any other Asterisk is refused), migrates and seeds the
    database when empty, creates the demo users and campaigns, renders the prompts, then serves
    the console while simulated patients book through the IVR, ask for an agent and answer the
    campaigns' calls. Ctrl-C stops the calls and the sandbox Asterisk (unless a test session
    is using it).
    """
    import time

    import uvloop

    from callcenter.agi.prompt_audio import sounds_language_dir
    from callcenter.asterisk.sandbox import AsteriskSandbox
    from callcenter.demo import voices
    from callcenter.demo.callers import StreamSettings
    from callcenter.demo.run import (
        DemoRefused,
        demo_background,
        demo_campaigns,
        demo_settings,
        demo_users,
        describe_campaigns,
        describe_logins,
        describe_tries,
        release_sandbox,
        require_sandbox,
    )
    from callcenter.ivr.cli import build
    from callcenter.outbound.cli import build_campaign_prompts
    from callcenter.server.root import Server
    from callcenter.server.run import run_server
    from callcenter.server.single_process import AnotherServerRunning

    stream = StreamSettings(mean_gap_seconds=mean_gap)
    started = served = time.monotonic()

    async def callers(server: Server) -> None:
        await demo_background(
            server.settings,
            ami=server.ami,
            database=server.database,
            agents=server.desk.agents,
            stream=stream,
            started=started,
            served=served,  # read when the server runs: the moment it was started
        )

    settings = demo_settings(_load(ctx))
    ctx.obj["settings"] = settings  # the steps invoked below run with the demo's settings
    box = AsteriskSandbox(settings, progress=click.echo)
    try:
        click.echo(require_sandbox(settings, box))
    except DemoRefused as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        ctx.invoke(seed, demo=True, patients=5000, rng_seed=2026, if_empty=True)
        logins = asyncio.run(demo_users(settings))
        campaigns = asyncio.run(demo_campaigns(settings))
        ctx.invoke(build, out_dir=None, sandbox=True, languages=(), no_database=False)
        ctx.invoke(build_campaign_prompts, sandbox=True)
        voices.render(sounds_language_dir(settings, sandbox=True))
        click.echo(describe_logins(settings, logins))
        click.echo(describe_campaigns(settings, campaigns))
        click.echo(describe_tries(settings))
        click.echo(
            f"prepared in {time.monotonic() - started:.0f} s; starting the server (the log says "
            "'demo: live' when calls flow); Ctrl-C stops it"
        )
        served = time.monotonic()
        try:
            uvloop.run(run_server(settings, background=None if no_callers else callers))
        except AnotherServerRunning as exc:
            raise click.ClickException(str(exc)) from exc
    finally:
        # Nothing of the demo lingers for the tests or the next run (docs/supervisor_board.md).
        click.echo(release_sandbox(box))


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _register_optional_groups() -> None:
    # Telephony command groups live beside their code; each registers itself here.
    from callcenter.asterisk.cli import asterisk

    cli.add_command(asterisk)
    from callcenter.ivr.cli import prompts

    cli.add_command(prompts)
    from callcenter.recording.cli import recordings

    cli.add_command(recordings)
    from callcenter.outbound.cli import campaign

    cli.add_command(campaign)
    from callcenter.privacy_cli import patient

    cli.add_command(patient)
    from callcenter.users_cli import USER_COMMANDS

    for command in USER_COMMANDS:
        user.add_command(command)
    from callcenter.slots.cli import slots

    cli.add_command(slots)
    from callcenter.calls.cli import reports

    cli.add_command(reports)


_register_optional_groups()


def main() -> None:
    try:
        cli(prog_name="callcenter")
    except KeyboardInterrupt:
        sys.exit(130)
