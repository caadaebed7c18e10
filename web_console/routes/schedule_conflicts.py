"""Bookings a schedule change left without a doctor: the supervisor's list and one-click fixes.

``/admin/schedule-conflicts`` (supervisors and admins) lists the future booked appointments a
leave, a changed template or a deactivated doctor hit; each is moved to the next free time of
the same doctor or department, or cancelled, with one click (``static/schedule_conflicts.js``
calls the API below). The work is :class:`~hcrm_core.services.slot_keeper.SlotKeeper`'s: one
transaction per change, audited, and the patient gets a follow-up (a call or a task).

The existing ``/appointments/{id}/cancel`` is the desk's (any staff, the cut-off applies, no
follow-up); a cancellation for a schedule change is the hospital's, so it has its own route.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AuditAction
from hcrm_core.services.audit import record_audit
from hcrm_core.services.slot_keeper import MOVE_SCOPES, ScheduleConflict, SlotKeeper
from web_console.access import SUPERVISORS, actor_for, allow
from web_console.json_body import read_body
from web_console.keys import DATABASE, SETTINGS
from web_console.pages import page
from web_console.routes.appointments_api import appointment_json
from web_console.timefmt import format_datetime
from web_console.views import id_from, only_params

routes = web.RouteTableDef()
PREFIX = "/api/v1"
PAGE = "/admin/schedule-conflicts"
REASONS = {
    "exception": "Doctor on leave or holiday",
    "no_template": "No longer in the weekly schedule",
    "doctor_inactive": "Doctor deactivated",
}


def _keeper(request: web.Request) -> SlotKeeper:
    return SlotKeeper(request.app[DATABASE], request.app[SETTINGS].booking_policy())


def conflict_json(conflict: ScheduleConflict, request: web.Request) -> dict[str, Any]:
    tz = request.app[SETTINGS].tz
    return {
        "appointment_id": conflict.appointment_id,
        "patient_id": conflict.patient_id,
        "patient": conflict.patient_name,
        "doctor_id": conflict.doctor_id,
        "doctor": conflict.doctor_name,
        "department_id": conflict.department_id,
        "department": conflict.department_name,
        "starts_at": conflict.starts_at.isoformat(),
        "local": format_datetime(conflict.starts_at, tz),
        "reason": conflict.reason.value,
        "reason_text": REASONS[conflict.reason.value],
    }


async def _listed(request: web.Request) -> list[ScheduleConflict]:
    conflicts = await _keeper(request).conflicts()
    # The list names patients: who looked is recorded.
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.VIEW,
        "schedule_conflicts",
        detail={"count": len(conflicts)},
    )
    return conflicts


@routes.get(PAGE)
@allow(SUPERVISORS)
@page("schedule_conflicts.html")
async def conflicts_page(request: web.Request) -> dict[str, Any]:
    conflicts = await _listed(request)
    return {"conflicts": [conflict_json(c, request) for c in conflicts]}


@routes.get(f"{PREFIX}/schedule-conflicts")
@allow(SUPERVISORS)
async def list_conflicts(request: web.Request) -> web.Response:
    only_params(request, set())
    conflicts = await _listed(request)
    return web.json_response({"conflicts": [conflict_json(c, request) for c in conflicts]})


@routes.post(f"{PREFIX}/appointments/{{appointment_id}}/move")
@allow(SUPERVISORS)
async def move(request: web.Request) -> web.Response:
    """``{"scope": "doctor"|"department"}`` (the next free time) or ``{"slot_id": N}``."""
    appointment_id = id_from(request.match_info["appointment_id"], "appointment_id")
    body = await read_body(request)
    slot_id = body.integer("slot_id")
    scope = body.text("scope", max_length=20)
    body.done()
    if slot_id is not None and scope is not None:
        raise ValidationFailed("slot_id", "give a slot_id or a scope, not both")
    if slot_id is None and scope not in MOVE_SCOPES:
        raise ValidationFailed("scope", "use doctor or department (or give a slot_id)")
    moved = await _keeper(request).move(
        appointment_id,
        to_slot_id=slot_id,
        scope="department" if scope == "department" else "doctor",
        actor=actor_for(request),
    )
    answer = appointment_json(moved, request)
    answer["local"] = format_datetime(moved.starts_at, request.app[SETTINGS].tz)
    return web.json_response(answer, status=201)


@routes.post(f"{PREFIX}/appointments/{{appointment_id}}/cancel-for-schedule")
@allow(SUPERVISORS)
async def cancel_for_schedule(request: web.Request) -> web.Response:
    """``{"reason": "..."}``: cancelled by the hospital, no cut-off, the patient followed up."""
    appointment_id = id_from(request.match_info["appointment_id"], "appointment_id")
    body = await read_body(request)
    reason = body.required_text("reason", max_length=200)
    body.done()
    cancelled = await _keeper(request).cancel(
        appointment_id, reason=reason, actor=actor_for(request)
    )
    return web.json_response(
        {
            "id": cancelled.id,
            "patient_id": cancelled.patient_id,
            "status": cancelled.status.value,
            "cancel_reason": cancelled.cancel_reason,
        }
    )
