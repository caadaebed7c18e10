"""OpenAPI paths of the schedule conflicts (web_console/routes/schedule_conflicts.py):
supervisors and admins."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXT = {
    400: "The body is not a JSON object, or a string in it is not valid text",
    401: "Not logged in",
    403: "Not a supervisor or admin, or a missing CSRF token",
    404: "No such appointment or slot",
    409: "The appointment is no longer booked, the time was just taken, or (`no_free_time`) "
    "nothing is free to move it to",
    422: "A field is invalid; `field` names it",
}
_APPOINTMENT_ID = {
    "name": "appointment_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
}
_ROLES = ["supervisor", "admin"]
_FOLLOW_UP = (
    " The patient gets a follow-up in the same transaction: a call in the running "
    "`appointment-changed` campaign, or a follow-up task when they may not be called (no "
    "consent, do-not-call, no phone, or the campaign stopped). Audited."
)

SCHEMAS: dict[str, Any] = {
    "ScheduleConflict": {
        "type": "object",
        "properties": {
            "appointment_id": {"type": "integer"},
            "patient_id": {"type": "integer"},
            "patient": {"type": "string"},
            "doctor_id": {"type": "integer"},
            "doctor": {"type": "string"},
            "department_id": {"type": "integer"},
            "department": {"type": "string"},
            "starts_at": {"type": "string", "format": "date-time"},
            "local": {"type": "string", "description": "Start in the hospital's time zone"},
            "reason": {"type": "string", "enum": ["exception", "no_template", "doctor_inactive"]},
            "reason_text": {"type": "string"},
        },
    }
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": _TEXT[code], "content": {"application/json": {"schema": _ERROR}}}
        for code in codes
    }


def _ok(schema: dict[str, Any], description: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def add_slots_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add the schedule-conflict paths and their schema to ``document``; return it."""
    security: list[dict[str, list[str]]] = [{"session": []}]
    components = document["components"]
    components["schemas"] = {**components["schemas"], **SCHEMAS}
    paths = document["paths"]
    conflict = {"$ref": "#/components/schemas/ScheduleConflict"}
    paths["/api/v1/schedule-conflicts"] = {
        "get": {
            "summary": "Future booked appointments a schedule change left without a doctor",
            "description": "A leave, sick day or holiday over the time (`exception`), a weekly "
            "template that no longer gives the slot (`no_template`), or a deactivated doctor "
            "(`doctor_inactive`); soonest first. The view is audited (it names patients).",
            "x-roles": _ROLES,
            "security": security,
            "responses": {
                **_ok(
                    {
                        "type": "object",
                        "properties": {"conflicts": {"type": "array", "items": conflict}},
                    },
                    "The conflicts",
                ),
                **_errors(401, 403, 422),
            },
        }
    }
    paths["/api/v1/appointments/{appointment_id}/move"] = {
        "post": {
            "summary": "Move a booked appointment (the hospital's change; no cut-off)",
            "description": "`scope` moves it to the next free time of the same doctor or "
            "department; `slot_id` to that slot. The booking rules are the desk's (one "
            "booking per slot, per patient, department and day; the horizon)." + _FOLLOW_UP,
            "x-roles": _ROLES,
            "security": security,
            "parameters": [_APPOINTMENT_ID],
            "requestBody": _body(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "scope": {"type": "string", "enum": ["doctor", "department"]},
                        "slot_id": {"type": "integer"},
                    },
                }
            ),
            "responses": {
                **_ok({"$ref": "#/components/schemas/Appointment"}, "The new appointment", "201"),
                **_errors(400, 401, 403, 404, 409, 422),
            },
        }
    }
    paths["/api/v1/appointments/{appointment_id}/cancel-for-schedule"] = {
        "post": {
            "summary": "Cancel a booked appointment for a schedule change (no cut-off)",
            "description": "Unlike `/cancel` (the desk's), the hospital cancels: no cut-off "
            "applies and the patient is followed up." + _FOLLOW_UP,
            "x-roles": _ROLES,
            "security": security,
            "parameters": [_APPOINTMENT_ID],
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["reason"],
                    "additionalProperties": False,
                    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 200}},
                }
            ),
            "responses": {
                **_ok(
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "patient_id": {"type": "integer"},
                            "status": {"type": "string"},
                            "cancel_reason": {"type": "string"},
                        },
                    },
                    "The cancelled appointment",
                ),
                **_errors(400, 401, 403, 404, 409, 422),
            },
        }
    }
    return document
