"""Console users over /api/v1 (admins only; supervisors and agents get 403).

The pages (``users_admin.py``) and these routes call the same services
(:mod:`hcrm_core.services.user_admin`) and the same console effects
(:mod:`web_console.account_effects`): a disabled user's sessions end and their websockets close
before the answer is sent; a new role applies at once.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.actors import Actor
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import User
from hcrm_core.services import user_admin
from web_console.access import ADMINS, actor_for, allow
from web_console.account_effects import apply_extension, apply_role, end_user_sessions
from web_console.json_body import Body, read_body
from web_console.keys import DATABASE
from web_console.views import id_from, only_params

routes = web.RouteTableDef()
PREFIX = "/api/v1/users"
_EDITABLE = ("display_name", "role", "extension")


def user_json(user: User) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "extension": user.extension,
        "active": user.active,
        "must_change_password": user.must_change_password,
        "created_at": when(user.created_at),
        "last_login_at": when(user.last_login_at),
        "password_changed_at": when(user.password_changed_at),
    }


def _user_id(request: web.Request) -> int:
    return id_from(request.match_info["user_id"], "user_id")


def _optional(body: Body, name: str) -> Any:
    """The field's value (None included: it clears), or UNCHANGED when the body lacks it."""
    if not body.present(name):
        body.text(name)  # marks it read
        return user_admin.UNCHANGED
    return body.text(name, max_length=200)


@routes.get(PREFIX)
@allow(ADMINS)
async def list_users(request: web.Request) -> web.Response:
    only_params(request, set())
    users = await user_admin.list_users(request.app[DATABASE])
    return web.json_response({"users": [user_json(u) for u in users]})


@routes.post(PREFIX)
@allow(ADMINS)
async def create_user(request: web.Request) -> web.Response:
    """201 with the user; ``temporary_password`` (shown once) when none was given."""
    body = await read_body(request)
    new = user_admin.NewUser(
        username=body.required_text("username", max_length=64),
        role=body.required_text("role", max_length=20),
        display_name=body.text("display_name", max_length=200),
        extension=body.text("extension", max_length=16),
        password=body.text("password", max_length=256),
    )
    body.done()
    created = await user_admin.add_user(request.app[DATABASE], new, actor_for(request))
    answer = {**user_json(created.user), "temporary_password": created.temporary_password}
    return web.json_response(answer, status=201)


@routes.get(f"{PREFIX}/{{user_id}}")
@allow(ADMINS)
async def read_user(request: web.Request) -> web.Response:
    only_params(request, set())
    return web.json_response(
        user_json(await user_admin.get_user(request.app[DATABASE], _user_id(request)))
    )


@routes.patch(f"{PREFIX}/{{user_id}}")
@allow(ADMINS)
async def update_user(request: web.Request) -> web.Response:
    """Change any of display_name, role, extension (null clears the extension). Audited."""
    user_id = _user_id(request)
    body = await read_body(request)
    if not any(body.present(name) for name in _EDITABLE):
        raise ValidationFailed("body", f"give at least one of: {', '.join(_EDITABLE)}")
    changes = {name: _optional(body, name) for name in _EDITABLE}
    body.done()
    user = await edit(request.app, user_id, actor_for(request), changes)
    return web.json_response(user_json(user))


async def edit(app: web.Application, user_id: int, actor: Actor, changes: dict[str, Any]) -> User:
    """Save an edit and apply it to the running console (the pages use it too)."""
    user, changed = await user_admin.update_user(app[DATABASE], user_id, actor, **changes)
    if "role" in changed:
        await apply_role(app, user.id)
    if "extension" in changed:
        await apply_extension(app, user.username, user.extension)
    return user


async def disable(app: web.Application, user_id: int, actor: Actor) -> tuple[User, int]:
    user = await user_admin.disable_user(app[DATABASE], user_id, actor)
    return user, await end_user_sessions(app, user.id, user.username, "user disabled")


async def reset(app: web.Application, user_id: int, actor: Actor) -> tuple[User, str]:
    if actor.user_id == user_id:
        raise ValidationFailed("password", "change your own password at /account/password")
    user, password = await user_admin.reset_password(app[DATABASE], user_id, actor)
    await end_user_sessions(app, user.id, user.username, "password reset")
    return user, password


@routes.post(f"{PREFIX}/{{user_id}}/disable")
@allow(ADMINS)
async def disable_user(request: web.Request) -> web.Response:
    """Disable: the user's sessions end and their websockets close before this answers."""
    user_id = _user_id(request)
    (await read_body(request)).done()
    user, ended = await disable(request.app, user_id, actor_for(request))
    return web.json_response({**user_json(user), "sessions_ended": ended})


@routes.post(f"{PREFIX}/{{user_id}}/enable")
@allow(ADMINS)
async def enable_user(request: web.Request) -> web.Response:
    user_id = _user_id(request)
    (await read_body(request)).done()
    user = await user_admin.enable_user(request.app[DATABASE], user_id, actor_for(request))
    return web.json_response(user_json(user))


@routes.post(f"{PREFIX}/{{user_id}}/reset-password")
@allow(ADMINS)
async def reset_password(request: web.Request) -> web.Response:
    """A new temporary password, answered once; the user's sessions end."""
    user_id = _user_id(request)
    (await read_body(request)).done()
    user, password = await reset(request.app, user_id, actor_for(request))
    return web.json_response({**user_json(user), "temporary_password": password})
