"""Typed application and request state keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from web_console.sessions import Session, SessionStore
from web_console.throttle import LoginThrottle

if TYPE_CHECKING:
    from callcenter.board.services import BoardService
    from callcenter.server.runtime import Runtime
    from web_console.ws import WsHub

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
SESSIONS: web.AppKey[SessionStore] = web.AppKey("sessions", SessionStore)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle", LoginThrottle)
WS_HUB: web.AppKey[WsHub] = web.AppKey("ws_hub")
BOARD: web.AppKey[BoardService] = web.AppKey("supervisor_board")

SESSION_COOKIE = "cc_session"
# Before login there is no session to hold a CSRF token: the login form uses a double-submit
# token kept in its own cookie.
LOGIN_CSRF_COOKIE = "cc_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# The live Session or None, set by the session middleware.
REQUEST_SESSION: web.RequestKey[Session | None] = web.RequestKey("session", Session)
