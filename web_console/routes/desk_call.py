"""Call control at the desk: the JSON actions under /api/v1/desk/call (the buttons on the pop).

Each acts on the signed-in agent's own current call only, and each is audited twice: before
Asterisk is asked (a transfer placed is never missing from the trail) and with how it ended.
Refusals are typed errors with a message for the desk (the call has just ended, the agent to
transfer to is paused, the number cannot be dialled), translated once by the error middleware.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.errors import DomainError
from hcrm_core.models import AuditAction
from hcrm_core.services.audit import record_audit
from web_console.access import STAFF, actor_for, allow, require_session
from web_console.json_body import read_body
from web_console.keys import DATABASE, DESK

routes = web.RouteTableDef()
PREFIX = "/api/v1/desk/call"


async def _audit(request: web.Request, event: str, outcome: str, **detail: Any) -> None:
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.UPDATE,
        "call_control",
        require_session(request).username,
        detail={"event": event, "outcome": outcome, **detail},
    )


async def _audited(request: web.Request, event: str, action: Any, **detail: Any) -> Any:
    await _audit(request, event, "attempt", **detail)
    try:
        result = await action
    except DomainError as exc:
        await _audit(request, event, f"refused: {exc.code}", **detail)
        raise
    return result


@routes.get(f"{PREFIX}/recording")
@allow(STAFF)
async def recording_state(request: web.Request) -> web.Response:
    """Is the current call recorded (and paused)? ``recording`` is null when it is not."""
    control = request.app[DESK].call_control
    state = await control.recording_state(require_session(request).username)
    return web.json_response({"recording": state})


@routes.post(f"{PREFIX}/hangup")
@allow(STAFF)
async def hang_up(request: web.Request) -> web.Response:
    (await read_body(request)).done()
    control = request.app[DESK].call_control
    linkedid = await _audited(request, "hangup", control.hang_up(require_session(request).username))
    await _audit(request, "hangup", "done", linkedid=linkedid)
    return web.json_response({"linkedid": linkedid, "state": "ended"})


@routes.post(f"{PREFIX}/hold")
@allow(STAFF)
async def hold(request: web.Request) -> web.Response:
    (await read_body(request)).done()
    control = request.app[DESK].call_control
    held = await _audited(request, "hold", control.hold(require_session(request).username))
    await _audit(request, "hold", "done", linkedid=held.legs.linkedid)
    return web.json_response(
        {"linkedid": held.legs.linkedid, "state": "held", "held_at": held.since}
    )


@routes.post(f"{PREFIX}/resume")
@allow(STAFF)
async def resume(request: web.Request) -> web.Response:
    (await read_body(request)).done()
    control = request.app[DESK].call_control
    linkedid = await _audited(request, "resume", control.resume(require_session(request).username))
    await _audit(request, "resume", "done", linkedid=linkedid)
    return web.json_response({"linkedid": linkedid, "state": "talking"})


@routes.post(f"{PREFIX}/transfer")
@allow(STAFF)
async def transfer(request: web.Request) -> web.Response:
    """Blind transfer: ``kind`` queue, agent or number; ``target`` its name or number."""
    body = await read_body(request)
    kind = body.required_text("kind", max_length=10)
    target = body.required_text("target", max_length=64)
    body.done()
    control = request.app[DESK].call_control
    done = await _audited(
        request,
        "transfer",
        control.transfer(require_session(request).username, kind, target),
        kind=kind,
        target=target,
    )
    await _audit(
        request, "transfer", "done", linkedid=done.linkedid, kind=done.kind, target=done.target
    )
    return web.json_response(
        {"linkedid": done.linkedid, "kind": done.kind, "target": done.target}, status=202
    )


@routes.post(f"{PREFIX}/consult")
@allow(STAFF)
async def consult(request: web.Request) -> web.Response:
    """Attended transfer, first step: ``kind`` agent or number; the caller hears music."""
    body = await read_body(request)
    kind = body.required_text("kind", max_length=10)
    target = body.required_text("target", max_length=64)
    body.done()
    control = request.app[DESK].call_control
    done = await _audited(
        request,
        "consult",
        control.consult(require_session(request).username, kind, target),
        kind=kind,
        target=target,
    )
    await _audit(
        request, "consult", "done", linkedid=done.linkedid, kind=done.kind, target=done.target
    )
    return web.json_response(
        {"linkedid": done.linkedid, "kind": done.kind, "target": done.target}, status=202
    )


@routes.post(f"{PREFIX}/conference")
@allow(STAFF)
async def conference(request: web.Request) -> web.Response:
    """Three-way call with ``target`` (``kind`` agent or number)."""
    body = await read_body(request)
    kind = body.required_text("kind", max_length=10)
    target = body.required_text("target", max_length=64)
    body.done()
    control = request.app[DESK].call_control
    done = await _audited(
        request,
        "conference",
        control.conference(require_session(request).username, kind, target),
        kind=kind,
        target=target,
    )
    await _audit(
        request, "conference", "done", linkedid=done.linkedid, kind=done.kind, target=done.target
    )
    return web.json_response(
        {"linkedid": done.linkedid, "kind": done.kind, "target": done.target}, status=202
    )


@routes.post(f"{PREFIX}/consult/complete")
@allow(STAFF)
async def complete_consult(request: web.Request) -> web.Response:
    (await read_body(request)).done()
    control = request.app[DESK].call_control
    username = require_session(request).username
    linkedid = await _audited(request, "consult_complete", control.complete_consult(username))
    await _audit(request, "consult_complete", "done", linkedid=linkedid)
    return web.json_response({"linkedid": linkedid, "state": "transferred"}, status=202)


@routes.post(f"{PREFIX}/consult/cancel")
@allow(STAFF)
async def cancel_consult(request: web.Request) -> web.Response:
    (await read_body(request)).done()
    control = request.app[DESK].call_control
    username = require_session(request).username
    linkedid = await _audited(request, "consult_cancel", control.cancel_consult(username))
    await _audit(request, "consult_cancel", "done", linkedid=linkedid)
    return web.json_response({"linkedid": linkedid, "state": "talking"})


async def _recording(request: web.Request, event: str, *, paused: bool) -> web.Response:
    (await read_body(request)).done()
    control = request.app[DESK].call_control
    # The recording slice audits the change itself (on the recording's row).
    linkedid, _ = await _audited(
        request,
        event,
        control.set_recording(
            require_session(request).username, paused=paused, actor=actor_for(request)
        ),
    )
    return web.json_response({"linkedid": linkedid, "recording": "paused" if paused else "on"})


@routes.post(f"{PREFIX}/recording/pause")
@allow(STAFF)
async def pause_recording(request: web.Request) -> web.Response:
    return await _recording(request, "recording_pause", paused=True)


@routes.post(f"{PREFIX}/recording/resume")
@allow(STAFF)
async def resume_recording(request: web.Request) -> web.Response:
    """Resume a paused recording; on an on-demand call, this starts it."""
    return await _recording(request, "recording_resume", paused=False)
