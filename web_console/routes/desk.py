"""The agent desk: the page, and its JSON actions under /api/v1/desk.

Any staff member may use the desk (supervisors take calls too); each acts only on their own
agent state and their own pops. State changes also arrive over ``/ws``; the JSON answers carry
the new state so the page is right even before the websocket message comes.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web

from callcenter.agents.errors import CallStillLive
from callcenter.agents.pops import LIVE_PHASES
from callcenter.agents.state import AgentState, own_extension
from hcrm_core.errors import DomainError, ValidationFailed
from hcrm_core.models import AuditAction, User
from hcrm_core.services.audit import record_audit
from hcrm_core.services.call_records import CallNotFound
from web_console.access import STAFF, actor_for, allow, require_session
from web_console.desk_relay import desk_state
from web_console.json_body import read_body
from web_console.keys import CALL_LOG, CALLS, DATABASE, DESK
from web_console.pages import page
from web_console.views import only_params

routes = web.RouteTableDef()
PREFIX = "/api/v1/desk"


@routes.get("/desk")
@allow(STAFF)
@page("desk.html")
async def desk_page(request: web.Request) -> dict[str, Any]:
    only_params(request, set())
    session = require_session(request)
    return {
        "pause_reasons": request.app[DESK].agents.pause_reasons,
        "extension": await _user_extension(request, session.user_id),
    }


async def _user_extension(request: web.Request, user_id: int) -> str:
    async with request.app[DATABASE].session() as session:
        user = await session.get(User, user_id)
        return (user.extension or "") if user is not None else ""


def _state(request: web.Request) -> web.Response:
    return web.json_response(desk_state(request.app, require_session(request).username))


@routes.get(PREFIX)
@allow(STAFF)
async def get_desk(request: web.Request) -> web.Response:
    only_params(request, set())
    return _state(request)


async def _audit_desk(request: web.Request, event: str, outcome: str, **detail: Any) -> None:
    """Who signed in or out where, dialled whom: one row per attempt, with how it ended."""
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.LOGIN if event in ("sign_in", "sign_out") else AuditAction.CREATE,
        "desk",
        require_session(request).username,
        detail={"event": event, "outcome": outcome, **detail},
    )


def _outcome(exc: DomainError) -> str:
    return f"refused: {exc.code}"


@routes.post(f"{PREFIX}/sign-in")
@allow(STAFF)
async def sign_in(request: web.Request) -> web.Response:
    """Only on the user's own extension (``users.extension``, assigned by an admin)."""
    body = await read_body(request)
    requested = body.text("extension", max_length=16)
    body.done()
    session = require_session(request)
    assigned = await _user_extension(request, session.user_id)
    try:
        extension = own_extension(requested, assigned)
        await request.app[DESK].agents.sign_in(
            session.user_id, session.username, extension, session_bound=True
        )
    except DomainError as exc:
        await _audit_desk(request, "sign_in", _outcome(exc), extension=requested or assigned)
        raise
    await _audit_desk(request, "sign_in", "signed_in", extension=extension)
    return _state(request)


@routes.post(f"{PREFIX}/sign-out")
@allow(STAFF)
async def sign_out(request: web.Request) -> web.Response:
    (await read_body(request)).done()
    try:
        await request.app[DESK].agents.sign_out(require_session(request).username)
    except DomainError as exc:
        await _audit_desk(request, "sign_out", _outcome(exc))
        raise
    await _audit_desk(request, "sign_out", "signed_out")
    return _state(request)


@routes.post(f"{PREFIX}/pause")
@allow(STAFF)
async def pause(request: web.Request) -> web.Response:
    body = await read_body(request)
    reason = body.required_text("reason", max_length=60)
    body.done()
    await request.app[DESK].agents.pause(require_session(request).username, reason)
    return _state(request)


@routes.post(f"{PREFIX}/resume")
@allow(STAFF)
async def resume(request: web.Request) -> web.Response:
    (await read_body(request)).done()
    await request.app[DESK].agents.resume(require_session(request).username)
    return _state(request)


@routes.post(f"{PREFIX}/dial")
@allow(STAFF)
async def dial(request: web.Request) -> web.Response:
    """Click-to-dial: ring the agent's phone, then ``number`` (any format; E.164 is dialled)."""
    body = await read_body(request)
    number = body.required_text("number", max_length=64)
    body.done()
    # Audited before Asterisk is asked (a call placed is never missing from the trail), and
    # again with what happened.
    await _audit_desk(request, "dial", "attempt", number=number)
    try:
        placed = await request.app[DESK].dialer.dial(require_session(request).username, number)
    except DomainError as exc:
        await _audit_desk(request, "dial", _outcome(exc), number=number)
        raise
    await _audit_desk(
        request,
        "dial",
        "placed",
        number=placed.number,
        linkedid=placed.channel_id,
        interface=placed.interface,
    )
    return web.json_response(
        {"linkedid": placed.channel_id, "number": placed.number, "interface": placed.interface},
        status=202,
    )


@routes.post(f"{PREFIX}/pops/{{linkedid}}/patient")
@allow(STAFF)
async def choose_patient(request: web.Request) -> web.Response:
    """The caller is this patient (picked from the list, or just registered)."""
    body = await read_body(request)
    patient_id = body.required_int("patient_id")
    body.done()
    session = require_session(request)
    linkedid = request.match_info["linkedid"]
    desk = request.app[DESK]
    pop = await desk.pops.choose_patient(session.username, linkedid, patient_id)
    # The call's record names the patient too: the live call (its later rows keep the link)
    # and the row already written, if any.
    request.app[CALLS].link_patient(linkedid, patient_id)
    with contextlib.suppress(CallNotFound):
        await desk.call_records.link_patient(linkedid, patient_id, actor_for(request))
    return web.json_response({"pop": pop.view()})


@routes.post(f"{PREFIX}/pops/{{linkedid}}/disposition")
@allow(STAFF)
async def save_disposition(request: web.Request) -> web.Response:
    """Save what the call was about; the pop leaves the desk and wrap-up ends."""
    body = await read_body(request)
    disposition = body.required_text("disposition", max_length=40)
    note = body.text("note", max_length=2000)
    body.done()
    session = require_session(request)
    linkedid = request.match_info["linkedid"]
    desk = request.app[DESK]
    pop = desk.pops.get(session.username, linkedid)  # 404 unless it is on this desk
    if pop.phase in LIVE_PHASES:
        raise CallStillLive(
            "the call is still live: save the disposition once it has ended "
            "(a note can be added now)"
        )
    await request.app[CALL_LOG].flush()  # the tracker's row must exist before we update it
    call = await desk.call_records.set_disposition(
        linkedid, disposition, actor_for(request), note=note
    )
    desk.pops.dismiss(session.username, linkedid)
    desk.agents.wrap_up_done(session.username, linkedid)
    await desk.agents.settled(session.username)  # the next call may come once Asterisk knows
    return web.json_response({"linkedid": linkedid, "disposition": call.disposition})


@routes.post(f"{PREFIX}/wrap-up/finish")
@allow(STAFF)
async def finish_wrap_up(request: web.Request) -> web.Response:
    """End a wrap-up that has no pop left to save (e.g. a call the server never popped)."""
    (await read_body(request)).done()
    session = require_session(request)
    desk = request.app[DESK]
    status = desk.agents.require(session.username)
    linkedid = status.linkedid
    if status.state is not AgentState.WRAP_UP or not linkedid:
        raise ValidationFailed("state", "you are not in wrap-up")
    if any(pop.linkedid == linkedid for pop in desk.pops.open_pops(session.username)):
        raise ValidationFailed("disposition", "save the call's disposition to finish wrap-up")
    desk.agents.wrap_up_done(session.username, linkedid)
    await desk.agents.settled(session.username)
    await _audit_desk(request, "wrap_up_finished", "ready", linkedid=linkedid)
    return _state(request)
