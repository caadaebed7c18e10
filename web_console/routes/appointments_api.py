"""/api/v1 appointments: departments, free slots, book, cancel, reschedule (staff, audited).

The same hcrm_core services the IVR books with, so the same rules hold (one booking per slot,
one per patient, department and day, the horizon, the cancellation cut-off); the channel is
``agent`` and the actor the logged-in user.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Appointment, AuditAction, Channel
from hcrm_core.services.appointments import BookingRequest
from hcrm_core.services.audit import record_audit
from hcrm_core.services.scheduling import FreeSlot
from web_console.access import STAFF, SUPERVISORS, actor_for, allow, require_session
from web_console.doctors_fields import department_json
from web_console.errors import error_body
from web_console.json_body import read_body
from web_console.keys import APPOINTMENTS, DATABASE, PATIENTS, SCHEDULING, SETTINGS
from web_console.timefmt import format_datetime
from web_console.views import id_from, int_param, only_params, patient_id_from

routes = web.RouteTableDef()
PREFIX = "/api/v1"


def appointment_json(appointment: Appointment, request: web.Request) -> dict[str, Any]:
    tz = request.app[SETTINGS].tz
    doctor = appointment.doctor
    return {
        "id": appointment.id,
        "patient_id": appointment.patient_id,
        "slot_id": appointment.slot_id,
        "starts_at": appointment.starts_at.isoformat(),
        "local": format_datetime(appointment.starts_at, tz, zone=True),
        "department_id": appointment.department_id,
        "department": appointment.department.name,
        "doctor": f"{doctor.given_name} {doctor.family_name}".strip(),
        "status": appointment.status.value,
        "confirmation_code": appointment.confirmation_code,
        "rescheduled_from_id": appointment.rescheduled_from_id,
    }


def _slot_json(slot: FreeSlot, request: web.Request) -> dict[str, Any]:
    tz = request.app[SETTINGS].tz
    return {
        "slot_id": slot.slot_id,
        "doctor_id": slot.doctor_id,
        "doctor": slot.doctor_name,
        "department_id": slot.department_id,
        "starts_at": slot.starts_at.isoformat(),
        "local": format_datetime(slot.starts_at, tz, zone=True),
    }


def _appointment_id(request: web.Request) -> int:
    return id_from(request.match_info["appointment_id"], "appointment_id")


@routes.get(f"{PREFIX}/departments")
@allow(STAFF)
async def departments(request: web.Request) -> web.Response:
    """The active departments (id, code, name) for everyone; with ``active=true|false|all``
    (supervisors and admins) the chosen ones with every field of ``GET /departments/{id}``."""
    only_params(request, {"active"})
    wanted = request.query.get("active")
    if wanted is None:
        rows = await request.app[SCHEDULING].list_departments()
        return web.json_response(
            {"departments": [{"id": d.id, "code": d.code, "name": d.name} for d in rows]}
        )
    if wanted not in ("true", "false", "all"):
        raise ValidationFailed("active", "use true, false or all")
    if require_session(request).role not in SUPERVISORS:
        message = "only supervisors and admins list departments by activity"
        return web.json_response(error_body("forbidden", message, "active"), status=403)
    rows = await request.app[SCHEDULING].list_departments(active_only=False)
    chosen = [d for d in rows if wanted == "all" or d.active == (wanted == "true")]
    return web.json_response({"departments": [department_json(d) for d in chosen]})


@routes.get(f"{PREFIX}/slots")
@allow(STAFF)
async def free_slots(request: web.Request) -> web.Response:
    """The earliest free slots of a department or a doctor."""
    only_params(request, {"department_id", "doctor_id", "limit"})
    query = request.query
    department_id = int_param(
        query.get("department_id"), "department_id", default=0, low=1, high=2**31
    )
    doctor_id = int_param(query.get("doctor_id"), "doctor_id", default=0, low=1, high=2**31)
    limit = int_param(query.get("limit"), "limit", default=10, low=1, high=100)
    slots = await request.app[SCHEDULING].next_free_slots(
        department_id=department_id or None, doctor_id=doctor_id or None, limit=limit
    )
    return web.json_response({"slots": [_slot_json(s, request) for s in slots]})


@routes.get(f"{PREFIX}/patients/{{patient_id}}/appointments")
@allow(STAFF)
async def patient_appointments(request: web.Request) -> web.Response:
    only_params(request, set())
    patient_id = patient_id_from(request)
    await request.app[PATIENTS].get(patient_id)  # 404 for an unknown patient
    rows = await request.app[APPOINTMENTS].upcoming_for_patient(patient_id)
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.VIEW,
        "appointments",
        patient_id=patient_id,
        detail={"via": "api"},
    )
    return web.json_response({"appointments": [appointment_json(a, request) for a in rows]})


@routes.post(f"{PREFIX}/appointments")
@allow(STAFF)
async def book(request: web.Request) -> web.Response:
    body = await read_body(request)
    booking = BookingRequest(
        patient_id=body.required_int("patient_id"),
        slot_id=body.required_int("slot_id"),
        channel=Channel.AGENT,
        actor=actor_for(request),
        reason=body.text("reason", max_length=500),
        call_linkedid=body.text("linkedid", max_length=64),
    )
    body.done()
    appointment = await request.app[APPOINTMENTS].book(booking)
    return web.json_response(appointment_json(appointment, request), status=201)


@routes.post(f"{PREFIX}/appointments/{{appointment_id}}/cancel")
@allow(STAFF)
async def cancel(request: web.Request) -> web.Response:
    """Cancel; ``override_cutoff`` lets staff cancel after the cut-off (never after the start)."""
    appointment_id = _appointment_id(request)
    body = await read_body(request)
    reason = body.text("reason", max_length=200)
    override = body.boolean("override_cutoff") or False
    body.done()
    appointment = await request.app[APPOINTMENTS].cancel(
        appointment_id,
        actor=actor_for(request),
        channel=Channel.AGENT,
        reason=reason,
        enforce_cutoff=not override,
    )
    return web.json_response(appointment_json(appointment, request))


@routes.post(f"{PREFIX}/appointments/{{appointment_id}}/reschedule")
@allow(STAFF)
async def reschedule(request: web.Request) -> web.Response:
    appointment_id = _appointment_id(request)
    body = await read_body(request)
    slot_id = body.required_int("slot_id")
    override = body.boolean("override_cutoff") or False
    body.done()
    moved = await request.app[APPOINTMENTS].reschedule(
        appointment_id,
        slot_id,
        actor=actor_for(request),
        channel=Channel.AGENT,
        enforce_cutoff=not override,
    )
    return web.json_response(appointment_json(moved, request), status=201)
