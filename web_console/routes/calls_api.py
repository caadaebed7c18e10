"""/api/v1 calls, complaints and patient registration and edits (staff, audited)."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from aiohttp import web

from hcrm_core.errors import FieldErrors, ValidationFailed
from hcrm_core.models import AuditAction, Call, Sex
from hcrm_core.services.audit import record_audit
from hcrm_core.services.call_records import CallViewer
from hcrm_core.services.complaints import file_complaint
from hcrm_core.services.patient_updates import PatientChanges, update_patient
from hcrm_core.services.patients import NewPatient, NewPhone
from web_console.access import STAFF, actor_for, allow, require_session
from web_console.json_body import Body, read_body
from web_console.keys import CALL_LOG, DATABASE, DESK, PATIENTS, SETTINGS
from web_console.views import only_params, patient_id_from

routes = web.RouteTableDef()
PREFIX = "/api/v1"
_SEXES = {s.value: s for s in Sex}


def call_json(call: Call) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "linkedid": call.linkedid,
        "direction": call.direction.value,
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "patient_id": call.patient_id,
        "started_at": iso(call.started_at),
        "queue": call.queue,
        "queue_wait_seconds": call.queue_wait_seconds,
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "end_reason": call.end_reason,
        "agent_interface": call.agent_interface,
        "agent_user_id": call.agent_user_id,
        "disposition": call.disposition,
        "notes": call.notes,
        "ivr_last_step": call.ivr_last_step,
        "ivr_context": call.ivr_context,
    }


def _linkedid(request: web.Request) -> str:
    raw = request.match_info["linkedid"]
    if (
        not raw
        or len(raw) > 64
        or not raw.isascii()
        or not all(c.isalnum() or c in ".-_" for c in raw)
    ):
        raise ValidationFailed("linkedid", "not a call id")
    return raw


async def _audit_call_view(request: web.Request, call: Call) -> None:
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.VIEW,
        "call",
        call.id,
        patient_id=call.patient_id,
        detail={"via": "api"},
    )


def call_viewer(request: web.Request) -> CallViewer:
    """The asker, with the calls and patients their desk's open pops show them now."""
    session = require_session(request)
    pops = request.app[DESK].pops.open_pops(session.username)
    return CallViewer(
        session.user_id,
        session.role,
        serving_linkedids=frozenset(p.linkedid for p in pops),
        serving_patient_ids=frozenset(
            p.patient["id"] for p in pops if p.patient and isinstance(p.patient.get("id"), int)
        ),
    )


@routes.get(f"{PREFIX}/calls/{{linkedid}}")
@allow(STAFF)
async def get_call(request: web.Request) -> web.Response:
    only_params(request, set())
    call = await request.app[DESK].call_records.get_for(_linkedid(request), call_viewer(request))
    await _audit_call_view(request, call)
    return web.json_response(call_json(call))


@routes.post(f"{PREFIX}/calls/{{linkedid}}/notes")
@allow(STAFF)
async def add_note(request: web.Request) -> web.Response:
    body = await read_body(request)
    note = body.required_text("note", max_length=2000)
    body.done()
    # A note may be added while the call is live: its row is written behind the events.
    await request.app[CALL_LOG].flush()
    call = await request.app[DESK].call_records.add_note(
        _linkedid(request), note, actor_for(request), call_viewer(request)
    )
    return web.json_response(call_json(call))


@routes.get(f"{PREFIX}/patients/{{patient_id}}/calls")
@allow(STAFF)
async def patient_calls(request: web.Request) -> web.Response:
    """The patient's calls the asker may see: all of them only when serving the patient."""
    only_params(request, set())
    patient_id = patient_id_from(request)
    await request.app[PATIENTS].get(patient_id)
    calls = await request.app[DESK].call_records.of_patient(
        patient_id, call_viewer(request), limit=20
    )
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.VIEW,
        "calls",
        patient_id=patient_id,
        detail={"via": "api"},
    )
    return web.json_response({"calls": [call_json(c) for c in calls]})


@routes.post(f"{PREFIX}/complaints")
@allow(STAFF)
async def new_complaint(request: web.Request) -> web.Response:
    body = await read_body(request)
    patient_id = body.required_int("patient_id")
    category = body.required_text("category", max_length=60)
    description = body.required_text("description", max_length=4000)
    linkedid = body.text("linkedid", max_length=64)
    severity = body.text("severity", max_length=20) or "medium"
    department_id = body.integer("department_id")
    body.done()
    complaint = await file_complaint(
        request.app[DATABASE],
        actor_for(request),
        patient_id=patient_id,
        category=category,
        description=description,
        linkedid=linkedid,
        severity=severity,
        department_id=department_id,
        timezone=request.app[SETTINGS].tz,
    )
    return web.json_response(
        {"id": complaint.id, "status": complaint.status.value, "category": complaint.category},
        status=201,
    )


def _sex(body: Body) -> Sex | None:
    raw = body.text("sex", max_length=10)
    if raw is None:
        return None
    if raw not in _SEXES:
        raise ValidationFailed("sex", f"choose one of: {', '.join(_SEXES)}")
    return _SEXES[raw]


@routes.post(f"{PREFIX}/patients")
@allow(STAFF)
async def register_patient(request: web.Request) -> web.Response:
    """A new patient (the pop's form for an unknown number); a record number is made if none."""
    body = await read_body(request)
    phone = body.text("phone", max_length=64)
    given_name = body.text("given_name", max_length=100) or ""
    family_name = body.text("family_name", max_length=100) or ""
    new = NewPatient(
        mrn=body.text("mrn", max_length=32) or f"N{secrets.randbelow(10**9):09d}",
        given_name=given_name,
        family_name=family_name,
        date_of_birth=_birth_day(body, given_name, family_name),
        sex=_sex(body) or Sex.UNKNOWN,
        phones=[NewPhone(phone)] if phone else [],
        preferred_language=body.text("preferred_language", max_length=8) or "en",
    )
    body.done()
    today = datetime.now(request.app[SETTINGS].tz).date()
    patient = await request.app[PATIENTS].create(new, actor_for(request), today)
    return web.json_response({"id": patient.id, "mrn": patient.mrn}, status=201)


def _birth_day(body: Body, given_name: str, family_name: str) -> date:
    """The date of birth; a missing name and date are refused together (one form, one go)."""
    errors: dict[str, str] = {}
    if not given_name.strip() and not family_name.strip():
        errors["name"] = "enter a given or a family name"
    day: date | None = None
    try:
        day = body.day("date_of_birth", required=True)
    except ValidationFailed as exc:
        errors[exc.field] = exc.message.removeprefix(f"{exc.field}: ")
    if errors:
        raise FieldErrors(errors)
    assert day is not None
    return day


@routes.patch(f"{PREFIX}/patients/{{patient_id}}")
@allow(STAFF)
async def edit_patient(request: web.Request) -> web.Response:
    patient_id = patient_id_from(request)
    body = await read_body(request)
    changes = PatientChanges(
        given_name=body.text("given_name", max_length=100),
        family_name=body.text("family_name", max_length=100),
        date_of_birth=body.day("date_of_birth"),
        sex=_sex(body),
        preferred_language=body.text("preferred_language", max_length=8),
        email=body.text("email", max_length=254),
        address=body.text("address", max_length=500),
        primary_phone=body.text("primary_phone", max_length=64),
        do_not_call=body.boolean("do_not_call"),
        consent_call=body.boolean("consent_call"),
        notes=body.text("notes", max_length=4000),
        vip=body.boolean("vip"),
        chronic_care=body.boolean("chronic_care"),
    )
    body.done()
    changed = await update_patient(
        request.app[DATABASE],
        patient_id,
        changes,
        actor_for(request),
        phone_region=request.app[SETTINGS].hospital.phone_region,
        today=datetime.now(request.app[SETTINGS].tz).date(),
    )
    return web.json_response({"id": patient_id, "changed": changed})
