"""Who may reach what: sessions, role checks and CSRF, each written once as a middleware.

Every route declares the roles it allows with :func:`allow` (or :func:`public`); a route that
declares nothing is refused to everyone (deny by default). Order of the middlewares:
session (who is asking) -> access (may they) -> CSRF (did our page send it).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from aiohttp.web_urldispatcher import StaticResource

from hcrm_core.actors import Actor
from hcrm_core.errors import StorageUnavailable
from hcrm_core.models import Role
from web_console.keys import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_CSRF_COOKIE,
    REQUEST_SESSION,
    SESSION_COOKIE,
    SESSIONS,
)
from web_console.sessions import Session

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
F = TypeVar("F", bound=Callable[..., Any])

STAFF = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})
PUBLIC = "public"
WS_PATH = "/ws"
_ATTR = "__console_access__"
_DURING_PASSWORD_CHANGE = "__console_during_password_change__"
PASSWORD_PAGE = "/account/password"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def allow(roles: frozenset[Role]) -> Callable[[F], F]:
    """Declare the roles that may use a handler."""

    def mark(handler: F) -> F:
        setattr(handler, _ATTR, roles)
        return handler

    return mark


def public(handler: F) -> F:
    """Declare a handler open to anyone, logged in or not (login, health, metrics)."""
    setattr(handler, _ATTR, PUBLIC)
    return handler


def during_password_change(handler: F) -> F:
    """Declare a handler usable while the user must still change a temporary password (the
    password page itself and logout); every other route waits for the change."""
    setattr(handler, _DURING_PASSWORD_CHANGE, True)
    return handler


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def current_session(request: web.Request) -> Session | None:
    return request.get(REQUEST_SESSION)


def require_session(request: web.Request) -> Session:
    session = current_session(request)
    if session is None:  # the access middleware makes this unreachable on declared routes
        raise web.HTTPUnauthorized()
    return session


def actor_for(request: web.Request) -> Actor:
    session = require_session(request)
    return Actor.user(session.user_id, session.username, source=request.remote)


def _declared_access(request: web.Request) -> frozenset[Role] | str | None:
    route = request.match_info.route
    if isinstance(route.resource, StaticResource):
        return PUBLIC
    declared: frozenset[Role] | str | None = getattr(route.handler, _ATTR, None)
    return declared


def _answers_with_status(request: web.Request) -> bool:
    # Scripts, not people, reach the API and the websocket: a login redirect means nothing to
    # them (a browser's WebSocket would only see a failed handshake), a 401 says what happened.
    return is_api(request) or request.path == WS_PATH


def _unauthenticated(request: web.Request) -> web.StreamResponse:
    if _answers_with_status(request):
        return web.json_response(
            {"error": "unauthenticated", "message": "log in first", "field": None}, status=401
        )
    target = request.path_qs if request.method in SAFE_METHODS else "/"
    raise web.HTTPFound(f"/login?next={quote(target, safe='')}")


def _forbidden(request: web.Request, message: str) -> web.StreamResponse:
    if is_api(request):
        return web.json_response(
            {"error": "forbidden", "message": message, "field": None}, status=403
        )
    raise web.HTTPForbidden(text=message)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is asking: the live session of the cookie, its user active (one database read)."""
    try:
        session = await request.app[SESSIONS].get(request.cookies.get(SESSION_COOKIE))
    except StorageUnavailable:
        if _declared_access(request) != PUBLIC:
            raise  # 503: who they are cannot be confirmed now
        session = None  # public routes (health, login) still answer
    request[REQUEST_SESSION] = session
    return await handler(request)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:
        return await handler(request)  # 404/405: nothing there to protect
    declared = _declared_access(request)
    if declared == PUBLIC:
        return await handler(request)
    session = current_session(request)
    if session is None:
        return _unauthenticated(request)
    if not isinstance(declared, frozenset) or session.role not in declared:
        return _forbidden(request, "your role does not allow this")
    if session.must_change_password and not getattr(
        request.match_info.route.handler, _DURING_PASSWORD_CHANGE, False
    ):
        return _password_change_required(request)
    return await handler(request)


def _password_change_required(request: web.Request) -> web.StreamResponse:
    if _answers_with_status(request):
        message = f"change your temporary password first ({PASSWORD_PAGE})"
        return web.json_response(
            {"error": "password_change_required", "message": message, "field": None}, status=403
        )
    target = request.path_qs if request.method in SAFE_METHODS else "/"
    raise web.HTTPSeeOther(f"{PASSWORD_PAGE}?next={quote(target, safe='')}")


async def _submitted_token(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached on the request: the handler reads it again
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing request carries the session's token (form field or header)."""
    if request.method in SAFE_METHODS or request.match_info.http_exception is not None:
        return await handler(request)
    session = current_session(request)
    expected = session.csrf_token if session else request.cookies.get(LOGIN_CSRF_COOKIE, "")
    submitted = await _submitted_token(request)
    # Compared as bytes: compare_digest refuses non-ASCII str, and a forged header or cookie
    # may hold any, even bytes that are not UTF-8 (kept as surrogates, which .encode() refuses
    # with a 500). Tokens are ASCII: anything else is simply wrong.
    if (
        not expected
        or not submitted
        or not (submitted.isascii() and expected.isascii())
        or not hmac.compare_digest(submitted.encode(), expected.encode())
    ):
        return _forbidden(request, "missing or wrong CSRF token; reload the page and try again")
    return await handler(request)
