"""A user's own account: changing the password (``/account/password``), open to every user.

After logging in with a temporary password (an admin's initial or reset one) this page and
logout are all the console allows (see :func:`web_console.access.during_password_change`).
A changed password ends the user's other sessions; this one goes on.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.services.passwords import MIN_PASSWORD_LENGTH
from hcrm_core.services.users import change_password
from web_console.access import (
    PASSWORD_PAGE,
    STAFF,
    actor_for,
    allow,
    during_password_change,
    require_session,
)
from web_console.keys import DATABASE, SESSIONS
from web_console.pages import render
from web_console.routes.auth import safe_next

routes = web.RouteTableDef()
_FIELDS = ("current_password", "new_password", "new_password_again")


def _page(
    request: web.Request,
    *,
    next_path: str,
    error: ValidationFailed | None = None,
    done: bool = False,
) -> web.Response:
    context: dict[str, Any] = {
        "next": next_path,
        "min_length": MIN_PASSWORD_LENGTH,
        "must_change": require_session(request).must_change_password,
        "error_field": error.field if error else None,
        # The message without the "field: " prefix: it is shown beside the field.
        "error": error.message.removeprefix(f"{error.field}: ") if error else None,
        "done": done,
    }
    return render(
        request, "account_password.html", context, status=error.http_status if error else 200
    )


def _next_from(raw: object) -> str:
    return safe_next(str(raw)) if raw else ""


@routes.get(PASSWORD_PAGE)
@allow(STAFF)
@during_password_change
async def password_form(request: web.Request) -> web.StreamResponse:
    return _page(request, next_path=_next_from(request.query.get("next")))


@routes.post(PASSWORD_PAGE)
@allow(STAFF)
@during_password_change
async def password_change(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    current, new, again = (str(form.get(name, "")) for name in _FIELDS)
    next_path = _next_from(form.get("next"))
    session = require_session(request)
    try:
        if not current:
            raise ValidationFailed("current_password", "is required")
        if new != again:
            raise ValidationFailed("new_password_again", "does not match the new password")
        await change_password(
            request.app[DATABASE], session.user_id, current, new, actor_for(request)
        )
    except ValidationFailed as exc:
        return _page(request, next_path=next_path, error=exc)
    store = request.app[SESSIONS]
    # A stolen session dies with the old password.
    await store.end_user(session.user_id, keep=session.id)
    await store.password_changed(session)
    if next_path:
        raise web.HTTPSeeOther(next_path)
    return _page(request, next_path="", done=True)
