"""Logging in and out. A login always starts a new session (new id, new CSRF token)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from hcrm_core.actors import Actor
from hcrm_core.models import AuditAction
from hcrm_core.services.audit import record_audit
from hcrm_core.services.users import verify_credentials
from web_console.access import (
    STAFF,
    allow,
    current_session,
    during_password_change,
    public,
    require_session,
)
from web_console.keys import (
    DATABASE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSIONS,
    SETTINGS,
    THROTTLE,
)
from web_console.pages import render

routes = web.RouteTableDef()
GENERIC_FAILURE = "Wrong username or password, or too many attempts. Try again later."


MAX_NEXT_LENGTH = 2048


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/``: never an open redirect.

    Browsers are lenient with a Location: they drop tabs and newlines, read ``\\`` as ``/``
    and take ``//host`` or ``/\t/host`` as another site. So only printable ASCII without
    spaces or backslashes is accepted (a path from our own redirect is percent-encoded), it
    must start with exactly one ``/``, and parsing it must find neither a scheme nor a host.
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return "/"
    if any(not "!" <= char <= "~" or char == "\\" for char in target):
        return "/"
    if not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return "/"
    return target


def _set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="Lax", secure=request.secure, path="/")


def _login_page(
    request: web.Request,
    *,
    next_path: str | None,
    error: str | None = None,
    status: int = 200,
    username: str = "",
) -> web.Response:
    token = secrets.token_urlsafe(32)
    context: dict[str, Any] = {
        "hospital": request.app[SETTINGS].hospital.name,
        "csrf_token": token,
        "error": error,
        "username": username,
        "next": safe_next(next_path),
    }
    response = render(request, "login.html", context, status=status)
    _set_cookie(response, request, LOGIN_CSRF_COOKIE, token)
    return response


@routes.get("/login")
@public
async def login_form(request: web.Request) -> web.StreamResponse:
    if current_session(request) is not None:
        raise web.HTTPFound(safe_next(request.query.get("next")))
    return _login_page(request, next_path=request.query.get("next"))


async def _audit_login(
    request: web.Request, username: str, user_id: int | None, outcome: str
) -> None:
    if user_id is not None:
        actor = Actor.user(user_id, username, source=request.remote)
    else:
        actor = Actor("anonymous", source=request.remote)
    await record_audit(
        request.app[DATABASE],
        actor,
        AuditAction.LOGIN,
        "user",
        user_id,
        detail={"outcome": outcome, "username": username[:64]},
    )


@routes.post("/login")
@public
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    next_path = str(form.get("next", "/"))
    address = request.remote or "unknown"
    # Booked before the password is checked: concurrent attempts cannot all slip through.
    attempt = await request.app[THROTTLE].reserve(username, address)
    if attempt is None:
        await _audit_login(request, username, None, "throttled")
        return _login_page(
            request, error=GENERIC_FAILURE, status=429, username=username, next_path=next_path
        )
    database = request.app[DATABASE]
    user = await verify_credentials(database, username, password) if username else None
    if user is None:
        await _audit_login(request, username, None, "failure")
        return _login_page(
            request, error=GENERIC_FAILURE, status=401, username=username, next_path=next_path
        )
    await attempt.succeeded()
    await _audit_login(request, user.username, user.id, "success")
    store = request.app[SESSIONS]
    await store.delete(request.cookies.get(SESSION_COOKIE))  # never carry an id across a login
    new_session = await store.create(
        user.id, user.username, user.role, must_change_password=user.must_change_password
    )
    response = web.HTTPFound(safe_next(next_path))
    _set_cookie(response, request, SESSION_COOKIE, new_session.id)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    raise response


@routes.post("/logout")
@allow(STAFF)
@during_password_change
async def logout(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    await request.app[SESSIONS].delete(session.id)
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
