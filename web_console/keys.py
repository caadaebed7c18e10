"""Typed application and request state keys.

The server's parts the console uses get one key each, filled by
:func:`web_console.app.create_app` from :class:`web_console.deps.ConsoleDeps`; routes read
``request.app[APPOINTMENTS]``, ``request.app[DESK]``, and so on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from callcenter.agents.plugin import AgentDesk
from callcenter.board.services import BoardService
from callcenter.bus import EventBus
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.tracker import CallTracker
from callcenter.monitoring.services import MonitorService
from callcenter.outbound.question_prompts import QuestionPrompts
from callcenter.settings import Settings
from hcrm_core.db import Database
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService
from web_console.deps import HealthSource
from web_console.sessions import Session, SessionStore
from web_console.throttle import LoginThrottle

if TYPE_CHECKING:
    from web_console.ws import WsHub

# -- the server's parts (ConsoleDeps) ---------------------------------------------------------
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
DATABASE: web.AppKey[Database] = web.AppKey("database", Database)
BUS: web.AppKey[EventBus] = web.AppKey("bus", EventBus)
PATIENTS: web.AppKey[PatientService] = web.AppKey("patients", PatientService)
SCHEDULING: web.AppKey[SchedulingService] = web.AppKey("scheduling", SchedulingService)
APPOINTMENTS: web.AppKey[AppointmentService] = web.AppKey("appointments", AppointmentService)
DESK: web.AppKey[AgentDesk] = web.AppKey("desk", AgentDesk)
CALLS: web.AppKey[CallTracker] = web.AppKey("calls", CallTracker)
CALL_LOG: web.AppKey[CallLogWriter] = web.AppKey("call_log", CallLogWriter)
BOARD: web.AppKey[BoardService] = web.AppKey("supervisor_board", BoardService)
MONITORING: web.AppKey[MonitorService] = web.AppKey("monitoring", MonitorService)
CAMPAIGNS: web.AppKey[CampaignService] = web.AppKey("campaigns", CampaignService)
CAMPAIGN_PROMPTS: web.AppKey[QuestionPrompts | None] = web.AppKey("campaign_prompts")
AMI_HEALTH: web.AppKey[HealthSource] = web.AppKey("ami_health")
AGI_HEALTH: web.AppKey[HealthSource] = web.AppKey("agi_health")
RECORDINGS_HEALTH: web.AppKey[HealthSource] = web.AppKey("recordings_health")
# Whether this process leads the others on the same database (None: not given, as in tests).
LEADERSHIP_HEALTH: web.AppKey[HealthSource | None] = web.AppKey("leadership_health")
# The event relay between processes on the same PostgreSQL (None: not given, as in tests).
RELAY_HEALTH: web.AppKey[HealthSource | None] = web.AppKey("relay_health")

# -- the console's own state ------------------------------------------------------------------
SESSIONS: web.AppKey[SessionStore] = web.AppKey("sessions", SessionStore)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle", LoginThrottle)
WS_HUB: web.AppKey[WsHub] = web.AppKey("ws_hub")

SESSION_COOKIE = "cc_session"
# Before login there is no session to hold a CSRF token: the login form uses a double-submit
# token kept in its own cookie.
LOGIN_CSRF_COOKIE = "cc_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# The live Session or None, set by the session middleware.
REQUEST_SESSION: web.RequestKey[Session | None] = web.RequestKey("session", Session)
