"""``callcenter user disable|enable|reset-password NAME``: what an admin does on the users page,
from the server's shell (audited as the ``cli`` actor, with the operating system user).

The console runs in another process: a disabled user's console sessions end at its next
session check (within 10 seconds), which also closes their websockets and signs them out of
the queues; the console's own Disable button does all of it at once.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click

from callcenter.cli_settings import settings_from

if TYPE_CHECKING:
    from hcrm_core.actors import Actor
    from hcrm_core.db import Database

T = TypeVar("T")


def _run(ctx: click.Context, work: Callable[[Database, Actor, int], Awaitable[T]], name: str) -> T:
    from hcrm_core.actors import Actor
    from hcrm_core.db import Database
    from hcrm_core.errors import DomainError
    from hcrm_core.services.users import user_by_name

    settings = settings_from(ctx)
    actor = Actor("cli", source=f"os-user:{getpass.getuser()}")

    async def _go() -> T:
        database = Database(settings.database_url)
        try:
            user = await user_by_name(database, name)
            return await work(database, actor, user.id)
        finally:
            await database.dispose()

    try:
        return asyncio.run(_go())
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("disable")
@click.argument("username")
@click.pass_context
def user_disable(ctx: click.Context, username: str) -> None:
    """Disable USERNAME: no more logins; open console sessions end within seconds."""
    from hcrm_core.services.user_admin import disable_user

    _run(ctx, lambda db, actor, user_id: disable_user(db, user_id, actor), username)
    click.echo(f"user {username!r} disabled")


@click.command("enable")
@click.argument("username")
@click.pass_context
def user_enable(ctx: click.Context, username: str) -> None:
    """Enable USERNAME again (refused if their extension was given to someone else)."""
    from hcrm_core.services.user_admin import enable_user

    _run(ctx, lambda db, actor, user_id: enable_user(db, user_id, actor), username)
    click.echo(f"user {username!r} enabled")


@click.command("reset-password")
@click.argument("username")
@click.pass_context
def user_reset_password(ctx: click.Context, username: str) -> None:
    """Give USERNAME a temporary password, printed once; they must change it at next login."""
    from hcrm_core.services.user_admin import reset_password

    _user, password = _run(
        ctx, lambda db, actor, user_id: reset_password(db, user_id, actor), username
    )
    click.echo(f"temporary password for {username!r} (shown once): {password}")
    click.echo("their open console sessions end within seconds; they must change it at login")


USER_COMMANDS = (user_disable, user_enable, user_reset_password)
