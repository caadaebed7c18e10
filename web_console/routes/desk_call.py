"""Call control at the desk: the JSON actions under /api/v1/desk/call (the buttons on the pop).

Each acts on the signed-in agent's own current call only, and each is audited twice: before
Asterisk is asked (a transfer placed is never missing from the trail) and with how it ended.
Refusals are typed errors with a message for the desk (the call has just ended, the agent to
transfer to is paused, the number cannot be dialled), translated once by the error middleware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from callcenter.agents.call_control import CallControl, TransferDone
from hcrm_core.errors import DomainError
from hcrm_core.models import AuditAction
from hcrm_core.services.audit import record_audit
from web_console.access import STAFF, actor_for, allow, require_session
from web_console.json_body import read_body
from web_console.keys import DATABASE, DESK

routes = web.RouteTableDef()
PREFIX = "/api/v1/desk/call"
Handler = Callable[[web.Request], Awaitable[web.Response]]


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


# The actions with no arguments, by path: the audited event, the CallControl method (it
# returns the call's Linkedid), the call's state the reply reports and the reply's status
# (202: Asterisk was asked; what it did reaches the desk as events).
_PLAIN_ACTIONS: dict[str, tuple[str, Callable[[CallControl, str], Awaitable[str]], str, int]] = {
    "hangup": ("hangup", CallControl.hang_up, "ended", 200),
    "resume": ("resume", CallControl.resume, "talking", 200),
    "consult/complete": ("consult_complete", CallControl.complete_consult, "transferred", 202),
    "consult/cancel": ("consult_cancel", CallControl.cancel_consult, "talking", 200),
}
# The actions towards ``target`` (its name or number; ``kind`` queue, agent or number), by
# path, which is also the audited event: a blind transfer; an attended transfer's first step
# (the caller hears music; ``kind`` agent or number); a three-way call (agent or number).
_TARGETED_ACTIONS: dict[str, Callable[[CallControl, str, str, str], Awaitable[TransferDone]]] = {
    "transfer": CallControl.transfer,
    "consult": CallControl.consult,
    "conference": CallControl.conference,
}


def _plain_action(
    event: str, act: Callable[[CallControl, str], Awaitable[str]], state: str, status: int
) -> Handler:
    @allow(STAFF)
    async def handler(request: web.Request) -> web.Response:
        (await read_body(request)).done()
        control = request.app[DESK].call_control
        linkedid = await _audited(request, event, act(control, require_session(request).username))
        await _audit(request, event, "done", linkedid=linkedid)
        return web.json_response({"linkedid": linkedid, "state": state}, status=status)

    return handler


def _targeted_action(
    event: str, act: Callable[[CallControl, str, str, str], Awaitable[TransferDone]]
) -> Handler:
    @allow(STAFF)
    async def handler(request: web.Request) -> web.Response:
        body = await read_body(request)
        kind = body.required_text("kind", max_length=10)
        target = body.required_text("target", max_length=64)
        body.done()
        control = request.app[DESK].call_control
        done = await _audited(
            request,
            event,
            act(control, require_session(request).username, kind, target),
            kind=kind,
            target=target,
        )
        await _audit(
            request, event, "done", linkedid=done.linkedid, kind=done.kind, target=done.target
        )
        return web.json_response(
            {"linkedid": done.linkedid, "kind": done.kind, "target": done.target}, status=202
        )

    return handler


for _path, (_event, _act, _state, _status) in _PLAIN_ACTIONS.items():
    routes.post(f"{PREFIX}/{_path}")(_plain_action(_event, _act, _state, _status))
for _path, _targeted in _TARGETED_ACTIONS.items():
    routes.post(f"{PREFIX}/{_path}")(_targeted_action(_path, _targeted))


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
