"""The wallboard, /wallboard: the centre at a glance on a TV, read only, refreshed live.

Waiting callers, the longest wait, today's service level, agents by state and the open and
overdue follow-up tasks; counts only, never a caller or a patient. Supervisors and admins see
it logged in; a TV without a login opens ``/wallboard?token=<web.wallboard_token>`` (no token
configured: logged-in supervisors only). The page polls ``/wallboard/data`` every few seconds.
"""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hcrm_core.models import Role
from hcrm_core.services.reports_tasks import task_counts
from web_console.access import current_session, public
from web_console.keys import BOARD, DATABASE, SETTINGS
from web_console.labels import label
from web_console.pages import render
from web_console.views import only_params

routes = web.RouteTableDef()
PAGE = "/wallboard"
# The agent states the wallboard counts, in the order it shows them.
AGENT_STATES = ("ready", "ringing", "on_call", "wrap_up", "paused", "busy", "unavailable")


def _allowed(request: web.Request) -> bool:
    session = current_session(request)
    if session is not None and session.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    expected = request.app[SETTINGS].web.wallboard_token.get_secret_value()
    given = request.query.get("token", "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _guard(request: web.Request) -> None:
    only_params(request, {"token"})
    if not _allowed(request):
        if current_session(request) is None and "token" not in request.query:
            raise web.HTTPFound(f"/login?next={PAGE}")
        raise web.HTTPForbidden(text="The wallboard is for supervisors, or a TV with its token.")


async def wallboard_view(request: web.Request) -> dict[str, Any]:
    """Counts for the wallboard (plain data: the page and its JSON)."""
    snapshot = request.app[BOARD].snapshot()
    settings = request.app[SETTINGS]
    now = time.time()
    queues = snapshot["queues"]
    longest = [q["longest_wait_since"] for q in queues if q["longest_wait_since"]]
    within = sum(q["answered_within_sl"] for q in queues)
    offered = sum(q["answered"] + q["abandoned"] for q in queues)
    states = dict.fromkeys(AGENT_STATES, 0)
    for agent in snapshot["agents"]:
        state = agent["state"] if agent["state"] in states else "unavailable"
        states[state] += 1
    tasks = await task_counts(
        request.app[DATABASE], datetime.now(UTC), datetime.now(settings.tz).date()
    )
    return {
        "at": now,
        "waiting": sum(q["waiting"] for q in queues),
        "longest_wait_seconds": round(now - min(longest)) if longest else 0,
        "service_level": round(100 * within / offered, 1) if offered else None,
        "answered": sum(q["answered"] for q in queues),
        "abandoned": sum(q["abandoned"] for q in queues),
        "queues": [
            {
                "name": q["name"],
                "description": q["description"],
                "waiting": q["waiting"],
                "longest_wait_seconds": round(now - q["longest_wait_since"])
                if q["longest_wait_since"]
                else 0,
                "service_level": q["service_level"],
            }
            for q in queues
        ],
        "agents": [{"state": s, "label": label(s), "count": n} for s, n in states.items()],
        "tasks": {"open": tasks.open, "overdue": tasks.overdue},
    }


@routes.get(PAGE)
@public
async def wallboard_page(request: web.Request) -> web.Response:
    _guard(request)
    return render(request, "wallboard.html", {"board": await wallboard_view(request)})


@routes.get(PAGE + "/data")
@public
async def wallboard_data(request: web.Request) -> web.Response:
    _guard(request)
    return web.json_response(await wallboard_view(request))
