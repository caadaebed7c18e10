"""The users page for admins: ``/admin/users`` (list, create) and ``/admin/users/{id}`` (edit,
disable or enable, reset the password, each after a confirmation page).

Plain forms, no script: a refused field is shown beside it with what was typed kept (passwords
are never sent back). A generated or reset password is shown once, on the answer to the POST
(never cached: every page is ``no-store``), and is not stored anywhere in clear.
"""

from __future__ import annotations

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Role, User
from hcrm_core.services import user_admin
from hcrm_core.services.passwords import MIN_PASSWORD_LENGTH
from web_console.access import ADMINS, actor_for, allow, require_session
from web_console.keys import DATABASE
from web_console.pages import render
from web_console.routes.users_api import disable, edit, reset
from web_console.views import ascii_int

routes = web.RouteTableDef()
PAGE = "/admin/users"
_CONFIRM = {
    "disable": (
        "Disable",
        "They are logged out of the console at once, their live screens close, they are "
        "signed out of the queues, and they cannot log in until enabled again.",
    ),
    "enable": ("Enable", "They can log in again with their current password."),
    "reset-password": (
        "Reset the password of",
        "A new temporary password is shown to you once. They are logged out at once and must "
        "choose their own password when they next log in.",
    ),
}
_NOTICES = {
    "saved": "Changes saved.",
    "created": "User created. They must change the password you typed at first login.",
    "disabled": "User disabled: their sessions ended.",
    "enabled": "User enabled.",
}
_FORM_FIELDS = ("username", "display_name", "role", "extension")


def _user_id(request: web.Request) -> int:
    user_id = ascii_int(request.match_info["user_id"])
    if user_id is None:
        raise web.HTTPNotFound(text="no such user")
    return user_id


def _errors(exc: ValidationFailed) -> dict[str, str]:
    return {exc.field: exc.message.removeprefix(f"{exc.field}: ")}


async def _list_page(
    request: web.Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    users = await user_admin.list_users(request.app[DATABASE])
    context = {
        "users": users,
        "roles": list(Role),
        "form": form or {"role": Role.AGENT.value},
        "errors": errors or {},
        "min_length": MIN_PASSWORD_LENGTH,
    }
    return render(request, "admin_users.html", context, status=status)


def _edit_page(
    request: web.Request,
    user: User,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    context = {
        "target": user,
        "roles": list(Role),
        "form": form
        or {
            "display_name": user.display_name,
            "role": user.role.value,
            "extension": user.extension or "",
        },
        "errors": errors or {},
        "notice": _NOTICES.get(request.query.get("done", "")),
        "is_self": require_session(request).user_id == user.id,
    }
    return render(request, "admin_users_edit.html", context, status=status)


@routes.get(PAGE)
@allow(ADMINS)
async def admin_users(request: web.Request) -> web.Response:
    return await _list_page(request)


@routes.post(PAGE)
@allow(ADMINS)
async def create_user(request: web.Request) -> web.Response:
    form = await request.post()
    kept = {name: str(form.get(name, "")) for name in _FORM_FIELDS}
    new = user_admin.NewUser(
        username=kept["username"],
        role=kept["role"],
        display_name=kept["display_name"],
        extension=kept["extension"],
        password=str(form.get("password", "")) or None,  # empty: generate one
    )
    try:
        created = await user_admin.add_user(request.app[DATABASE], new, actor_for(request))
    except ValidationFailed as exc:
        return await _list_page(request, form=kept, errors=_errors(exc), status=exc.http_status)
    if created.temporary_password is None:
        raise web.HTTPSeeOther(f"{PAGE}/{created.user.id}?done=created")
    context = {"target": created.user, "password": created.temporary_password, "why": "created"}
    return render(request, "admin_users_password.html", context)


@routes.get(f"{PAGE}/{{user_id}}")
@allow(ADMINS)
async def user_page(request: web.Request) -> web.Response:
    user = await user_admin.get_user(request.app[DATABASE], _user_id(request))
    return _edit_page(request, user)


@routes.post(f"{PAGE}/{{user_id}}")
@allow(ADMINS)
async def save_user(request: web.Request) -> web.Response:
    user_id = _user_id(request)
    form = await request.post()
    kept = {name: str(form.get(name, "")) for name in ("display_name", "role", "extension")}
    try:
        await edit(request.app, user_id, actor_for(request), dict(kept))
    except ValidationFailed as exc:
        user = await user_admin.get_user(request.app[DATABASE], user_id)
        return _edit_page(request, user, form=kept, errors=_errors(exc), status=exc.http_status)
    if require_session(request).role is not Role.ADMIN:
        raise web.HTTPSeeOther("/")  # they gave themselves another role: this page is not theirs
    raise web.HTTPSeeOther(f"{PAGE}/{user_id}?done=saved")


def _action(request: web.Request) -> str:
    action = request.match_info["action"]
    if action not in _CONFIRM:
        raise web.HTTPNotFound(text="no such action")
    return action


@routes.get(f"{PAGE}/{{user_id}}/{{action}}")
@allow(ADMINS)
async def confirm_page(request: web.Request) -> web.Response:
    """The confirmation step: what will happen, and the button that does it."""
    action = _action(request)
    user = await user_admin.get_user(request.app[DATABASE], _user_id(request))
    verb, consequence = _CONFIRM[action]
    context = {"target": user, "action": action, "verb": verb, "consequence": consequence}
    return render(request, "admin_users_confirm.html", context)


@routes.post(f"{PAGE}/{{user_id}}/{{action}}")
@allow(ADMINS)
async def do_action(request: web.Request) -> web.Response:
    action, user_id, actor = _action(request), _user_id(request), actor_for(request)
    database = request.app[DATABASE]
    try:
        if action == "disable":
            await disable(request.app, user_id, actor)
            raise web.HTTPSeeOther(f"{PAGE}/{user_id}?done=disabled")
        if action == "enable":
            await user_admin.enable_user(database, user_id, actor)
            raise web.HTTPSeeOther(f"{PAGE}/{user_id}?done=enabled")
        user, password = await reset(request.app, user_id, actor)
    except ValidationFailed as exc:
        user = await user_admin.get_user(database, user_id)
        return _edit_page(request, user, errors=_errors(exc), status=exc.http_status)
    context = {"target": user, "password": password, "why": "reset"}
    return render(request, "admin_users_password.html", context)
