"""The aiohttp application: console pages, the JSON API, health and metrics.

:func:`create_app` receives the server's parts the console uses as one typed
:class:`~web_console.deps.ConsoleDeps` (built by the server's composition root) and stores each
under its own ``web.AppKey``. The console starts and stops only its own things (websocket hub,
relays, session guard) with the app; the server's parts live as long as the server.
"""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from web_console import labels, timefmt, ws
from web_console.access import access_middleware, csrf_middleware, session_middleware
from web_console.account_check import account_check_context
from web_console.board_push import board_push_context
from web_console.deps import ConsoleDeps
from web_console.desk_relay import desk_relay_context
from web_console.desk_sessions import add_desk_sessions
from web_console.errors import error_middleware, headers_middleware
from web_console.input_text import input_text_middleware
from web_console.keys import (
    AGI_HEALTH,
    AMI_HEALTH,
    APPOINTMENTS,
    BOARD,
    BUS,
    CALL_LOG,
    CALLS,
    CAMPAIGN_PROMPTS,
    CAMPAIGNS,
    DATABASE,
    DESK,
    LEADERSHIP_HEALTH,
    MONITORING,
    PATIENTS,
    RECORDINGS_HEALTH,
    RELAY_HEALTH,
    SCHEDULING,
    SESSIONS,
    SETTINGS,
    THROTTLE,
    WS_HUB,
)
from web_console.routes import (
    account,
    api,
    appointments_api,
    auth,
    calls_api,
    campaigns,
    complaints_api,
    desk,
    desk_call,
    doctors_admin,
    health,
    home,
    hours_admin,
    hours_api,
    patients,
    privacy,
    queues_admin,
    queues_api,
    recordings,
    recordings_media,
    reports,
    reports_api,
    reports_more,
    reports_more_api,
    schedule_conflicts,
    segments,
    segments_api,
    supervisor,
    tasks_api,
    users_admin,
    users_api,
    wallboard,
    work_pages,
)
from web_console.sessions import Clock, SessionStore
from web_console.throttle import LoginThrottle
from web_console.transport import forwarded_middleware
from web_console.ws import WsHub, hub_context

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def create_app(
    deps: ConsoleDeps,
    *,
    clock: Clock = time.time,
    throttle: LoginThrottle | None = None,
) -> web.Application:
    """The console for one running server; ``clock`` and ``throttle`` are for tests."""
    app = web.Application(
        middlewares=[
            # First: every later part sees the client's address and scheme, not a proxy's.
            forwarded_middleware(deps.settings.web.trusted_proxies),
            headers_middleware,
            error_middleware,
            session_middleware,
            access_middleware,
            input_text_middleware,
            csrf_middleware,
        ]
    )
    _store_deps(app, deps)
    idle_seconds = deps.settings.web.session_idle_minutes * 60
    app[SESSIONS] = SessionStore(deps.database, idle_seconds, clock)
    app[THROTTLE] = throttle or LoginThrottle(deps.database, clock=clock)
    app[WS_HUB] = WsHub()
    app.cleanup_ctx.append(hub_context)
    app.cleanup_ctx.append(account_check_context)
    app.cleanup_ctx.append(desk_relay_context)
    add_desk_sessions(app)
    app.cleanup_ctx.append(board_push_context)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
    )
    # One time format in the hospital's zone and readable labels, in every template.
    env = aiohttp_jinja2.get_env(app)
    env.filters.update(timefmt.jinja_filters(deps.settings.tz))
    env.filters["label"] = labels.label
    env.globals["hospital_tz"] = deps.settings.hospital.timezone
    env.globals["hospital_zone"] = timefmt.zone_name(deps.settings.tz)
    env.globals["labels_json"] = labels.labels_json()
    for module in (health, auth, home, patients, supervisor, api, ws):
        app.add_routes(module.routes)
    for module in (desk, desk_call, appointments_api, calls_api):
        app.add_routes(module.routes)
    app.add_routes([*recordings.routes, *recordings_media.routes])
    app.add_routes(campaigns.routes)
    app.add_routes(privacy.routes)
    app.add_routes(schedule_conflicts.routes)
    app.add_routes(doctors_admin.routes)  # doctors, departments, their API
    app.add_routes([*account.routes, *users_admin.routes, *users_api.routes])
    app.add_routes([*queues_admin.routes, *queues_api.routes])  # queues as data
    app.add_routes([*hours_admin.routes, *hours_api.routes])  # opening hours, holidays
    app.add_routes([*reports.routes, *reports_api.routes, *wallboard.routes])  # reports
    app.add_routes([*reports_more.routes, *reports_more_api.routes])  # IVR, campaigns, work
    app.add_routes([*tasks_api.routes, *complaints_api.routes, *work_pages.routes])  # inbox
    app.add_routes([*segments.routes, *segments_api.routes])  # segments, tags, RFM
    app.router.add_static("/static", STATIC)
    return app


def _store_deps(app: web.Application, deps: ConsoleDeps) -> None:
    app[SETTINGS] = deps.settings
    app[DATABASE] = deps.database
    app[BUS] = deps.bus
    app[PATIENTS] = deps.patients
    app[SCHEDULING] = deps.scheduling
    app[APPOINTMENTS] = deps.appointments
    app[DESK] = deps.desk
    app[CALLS] = deps.calls
    app[CALL_LOG] = deps.call_log
    app[BOARD] = deps.board
    app[MONITORING] = deps.monitoring
    app[CAMPAIGNS] = deps.campaigns
    app[CAMPAIGN_PROMPTS] = deps.campaign_prompts
    app[AMI_HEALTH] = deps.ami_health
    app[AGI_HEALTH] = deps.agi_health
    app[RECORDINGS_HEALTH] = deps.recordings_health
    app[LEADERSHIP_HEALTH] = deps.leadership_health
    app[RELAY_HEALTH] = deps.relay_health
