"""OpenAPI paths of the agent desk, appointments, calls, complaints and patient edits."""

from __future__ import annotations

from typing import Any

STAFF_ROLES = ["agent", "supervisor", "admin"]
_SECURITY: list[dict[str, list[str]]] = [{"session": []}]
_TEXT = {
    400: "Bad request",
    401: "Not logged in",
    403: "Role not allowed, or missing CSRF token",
    404: "Not found",
    409: "A conflict (slot taken, not signed in, extension in use, too late to cancel...)",
    422: "A field is invalid; `field` names it",
    503: "The phone system (or the database) is unavailable; nothing was changed",
}


def _errors(*codes: int) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {
        str(code): {
            "description": _TEXT[code],
            "content": {"application/json": {"schema": schema}},
        }
        for code in codes
    }


def _ok(schema: dict[str, Any], description: str, status: int = 200) -> dict[str, Any]:
    return {
        str(status): {
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": False,
                }
            }
        },
    }


def _path_param(name: str, kind: str = "integer") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "x-roles": STAFF_ROLES,
        "security": _SECURITY,
        "responses": responses,
        **extra,
    }


_INT = {"type": "integer"}
_STR = {"type": "string"}

DESK_SCHEMAS: dict[str, Any] = {
    "Agent": {
        "type": "object",
        "properties": {
            "username": _STR,
            "extension": _STR,
            "interface": _STR,
            "queues": {"type": "array", "items": _STR},
            "state": {
                "type": "string",
                "enum": ["signed_out", "ready", "paused", "ringing", "on_call", "wrap_up"],
            },
            "pause_reason": _STR,
            "linkedid": {"type": ["string", "null"]},
            "since": {"type": "number", "description": "Unix time the state was entered"},
        },
    },
    "Desk": {
        "type": "object",
        "description": "Also the first websocket message on /ws (type 'desk')",
        "properties": {
            "type": {"const": "desk"},
            "agent": {"oneOf": [_ref("Agent"), {"type": "null"}]},
            "pops": {"type": "array", "items": _ref("ScreenPop")},
            "queues": {"type": "array", "items": _STR},
            "pause_reasons": {"type": "array", "items": _STR},
            "dispositions": {"type": "array", "items": _STR},
            "complaint_categories": {"type": "array", "items": _STR},
            "telephony": {"type": "object"},
            "server_time": {"type": "number"},
        },
    },
    "ScreenPop": {
        "type": "object",
        "properties": {
            "linkedid": _STR,
            "queue": _STR,
            "phase": {
                "type": "string",
                "enum": [
                    "ringing",
                    "answered",
                    "ended",
                    "missed",
                    "answered_elsewhere",
                    "caller_left",
                    "closed",
                ],
            },
            "caller_number": {"type": ["string", "null"]},
            "waited_seconds": {"type": ["number", "null"]},
            "match": {
                "type": "string",
                "enum": ["pending", "ivr", "caller_id", "agent", "several", "unknown", "error"],
            },
            "patient": {"type": ["object", "null"], "description": "the caller's card"},
            "candidates": {"type": "array", "items": {"type": "object"}},
            "prefill": {"type": ["object", "null"]},
            "ivr": {"type": "object"},
        },
    },
    "Appointment": {
        "type": "object",
        "properties": {
            "id": _INT,
            "patient_id": _INT,
            "slot_id": _INT,
            "starts_at": {"type": "string", "format": "date-time"},
            "local": _STR,
            "department_id": _INT,
            "department": _STR,
            "doctor": _STR,
            "status": {"type": "string", "enum": ["booked", "cancelled", "completed", "no_show"]},
            "confirmation_code": _STR,
            "rescheduled_from_id": {"type": ["integer", "null"]},
        },
    },
    "Call": {
        "type": "object",
        "properties": {
            "linkedid": _STR,
            "direction": _STR,
            "caller_number": {"type": ["string", "null"]},
            "patient_id": {"type": ["integer", "null"]},
            "queue": {"type": ["string", "null"]},
            "disposition": {"type": ["string", "null"]},
            "notes": {"type": ["string", "null"]},
            "ivr_context": {"type": "object"},
        },
    },
}

_DESK = _ok(_ref("Desk"), "The desk after the change")
_EMPTY = {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}

DESK_PATHS: dict[str, Any] = {
    "/api/v1/desk": {"get": _op("Your desk: agent state and open pops", {**_DESK, **_errors(401)})},
    "/api/v1/desk/sign-in": {
        "post": _op(
            "Sign in to your queues on your user's extension (the one an admin assigned; "
            "any other is a 403 naming `extension`)",
            {**_DESK, **_errors(401, 403, 409, 422, 503)},
            requestBody=_body({"extension": {"type": "string", "pattern": "^[0-9]{2,8}$"}}, []),
        )
    },
    "/api/v1/desk/sign-out": {
        "post": _op(
            "Leave your queues", {**_DESK, **_errors(401, 403, 409, 503)}, requestBody=_EMPTY
        )
    },
    "/api/v1/desk/pause": {
        "post": _op(
            "Pause with a reason (one of the configured pause reasons)",
            {**_DESK, **_errors(401, 403, 409, 422, 503)},
            requestBody=_body({"reason": _STR}, ["reason"]),
        )
    },
    "/api/v1/desk/resume": {
        "post": _op(
            "Resume taking calls", {**_DESK, **_errors(401, 403, 409, 503)}, requestBody=_EMPTY
        )
    },
    "/api/v1/desk/wrap-up/finish": {
        "post": _op(
            "End a wrap-up that has no pop left to save (a call with a pop ends it by its "
            "disposition)",
            {**_DESK, **_errors(401, 403, 409, 422)},
            requestBody=_EMPTY,
        )
    },
    "/api/v1/desk/dial": {
        "post": _op(
            "Click-to-dial: ring your phone, then the number, with the hospital's caller ID",
            {
                **_ok({"type": "object"}, "Asked of Asterisk", 202),
                **_errors(401, 403, 409, 422, 503),
            },
            requestBody=_body({"number": _STR}, ["number"]),
        )
    },
    "/api/v1/desk/call/hangup": {
        "post": _op(
            "Hang up your current call (for everyone on it); audited",
            {
                **_ok({"type": "object"}, "Done by Asterisk", 200),
                **_errors(401, 403, 409, 422, 503),
            },
            requestBody=_body({}, []),
        )
    },
    "/api/v1/desk/call/hold": {
        "post": _op(
            "Put your current call on hold: the caller hears music; audited. "
            "409 call_gone when the caller has just hung up",
            {
                **_ok({"type": "object"}, "Done by Asterisk", 200),
                **_errors(401, 403, 409, 422, 503),
            },
            requestBody=_body({}, []),
        )
    },
    "/api/v1/desk/call/resume": {
        "post": _op(
            "Take your held call back (bridge the caller and your phone again); audited",
            {
                **_ok({"type": "object"}, "Done by Asterisk", 200),
                **_errors(401, 403, 409, 422, 503),
            },
            requestBody=_body({}, []),
        )
    },
    "/api/v1/desk/call/transfer": {
        "post": _op(
            "Blind transfer of your current call: kind queue, agent (a login) or number; the "
            "caller keeps the same Linkedid, recording and call record. 422 (field target) for "
            "an unknown queue, an agent who is not ready, a number that cannot be dialled",
            {
                **_ok({"type": "object"}, "Done by Asterisk", 202),
                **_errors(401, 403, 409, 422, 503),
            },
            requestBody=_body(
                {"kind": {"type": "string", "enum": ["queue", "agent", "number"]}, "target": _STR},
                ["kind", "target"],
            ),
        )
    },
    "/api/v1/desk/call/consult": {
        "post": _op(
            "Attended transfer, first step: the caller hears music while you talk to an agent "
            "(kind agent, a login) or a number; then complete or cancel; audited",
            {
                **_ok({"type": "object"}, "Asked of Asterisk", 202),
                **_errors(401, 403, 409, 422, 503),
            },
            requestBody=_body(
                {"kind": {"type": "string", "enum": ["agent", "number"]}, "target": _STR},
                ["kind", "target"],
            ),
        )
    },
    "/api/v1/desk/call/consult/complete": {
        "post": _op(
            "Attended transfer, done: you leave, the caller and the consulted party talk. "
            "409 call_gone when the consulted party has hung up (you are back with the caller)",
            {
                **_ok({"type": "object"}, "Asked of Asterisk", 202),
                **_errors(401, 403, 409, 503),
            },
            requestBody=_body({}, []),
        )
    },
    "/api/v1/desk/call/consult/cancel": {
        "post": _op(
            "Attended transfer, abandoned: the consulted party is hung up, you are back with "
            "the caller; audited",
            {**_ok({"type": "object"}, "Done by Asterisk"), **_errors(401, 403, 409, 503)},
            requestBody=_body({}, []),
        )
    },
    "/api/v1/desk/call/conference": {
        "post": _op(
            "Three-way call: you, the caller and an agent (kind agent) or a number share a "
            "conference room; hanging up leaves it; audited",
            {
                **_ok({"type": "object"}, "Asked of Asterisk", 202),
                **_errors(401, 403, 409, 422, 503),
            },
            requestBody=_body(
                {"kind": {"type": "string", "enum": ["agent", "number"]}, "target": _STR},
                ["kind", "target"],
            ),
        )
    },
    "/api/v1/desk/call/recording": {
        "get": _op(
            "Is your current call recorded? recording: null, or its policy and whether paused",
            {**_ok({"type": "object"}, "The recording's state"), **_errors(401, 403, 409)},
        ),
    },
    "/api/v1/desk/call/recording/pause": {
        "post": _op(
            "Pause the recording of your current call (a marked span); audited",
            {
                **_ok({"type": "object"}, "Done by Asterisk", 200),
                **_errors(401, 403, 409, 422, 503),
            },
            requestBody=_body({}, []),
        )
    },
    "/api/v1/desk/call/recording/resume": {
        "post": _op(
            "Resume the recording of your current call (on an on-demand call: start it); audited",
            {
                **_ok({"type": "object"}, "Done by Asterisk", 200),
                **_errors(401, 403, 409, 422, 503),
            },
            requestBody=_body({}, []),
        )
    },
    "/api/v1/desk/pops/{linkedid}/patient": {
        "post": _op(
            "The caller is this patient (from the pick list, or just registered); audited",
            {**_ok({"type": "object"}, "The pop with the card"), **_errors(401, 403, 404, 422)},
            parameters=[_path_param("linkedid", "string")],
            requestBody=_body({"patient_id": _INT}, ["patient_id"]),
        )
    },
    "/api/v1/desk/pops/{linkedid}/disposition": {
        "post": _op(
            "Save the call's disposition (and a closing note): the pop closes, wrap-up ends. "
            "Refused with 409 (call_still_live) while the call is ringing or answered.",
            {**_ok({"type": "object"}, "Saved"), **_errors(401, 403, 404, 409, 422)},
            parameters=[_path_param("linkedid", "string")],
            requestBody=_body({"disposition": _STR, "note": _STR}, ["disposition"]),
        )
    },
    # GET /api/v1/departments is documented with the other departments' paths
    # (openapi_doctors.py).
    "/api/v1/slots": {
        "get": _op(
            "Earliest free slots of a department or doctor",
            {**_ok({"type": "object"}, "Free slots"), **_errors(401, 404, 422)},
            parameters=[
                {"name": "department_id", "in": "query", "schema": _INT},
                {"name": "doctor_id", "in": "query", "schema": _INT},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
            ],
        )
    },
    "/api/v1/patients/{patient_id}/appointments": {
        "get": _op(
            "A patient's upcoming appointments (audited)",
            {
                **_ok(
                    {
                        "type": "object",
                        "properties": {
                            "appointments": {"type": "array", "items": _ref("Appointment")}
                        },
                    },
                    "Upcoming",
                ),
                **_errors(401, 404, 422),
            },
            parameters=[_path_param("patient_id")],
        )
    },
    "/api/v1/appointments": {
        "post": _op(
            "Book a slot for a patient (channel 'agent'); linkedid ties it to the call",
            {**_ok(_ref("Appointment"), "Booked", 201), **_errors(401, 403, 404, 409, 422)},
            requestBody=_body(
                {"patient_id": _INT, "slot_id": _INT, "reason": _STR, "linkedid": _STR},
                ["patient_id", "slot_id"],
            ),
        )
    },
    "/api/v1/appointments/{appointment_id}/cancel": {
        "post": _op(
            "Cancel (before the cut-off unless override_cutoff; never after the start)",
            {**_ok(_ref("Appointment"), "Cancelled"), **_errors(401, 403, 404, 409, 422)},
            parameters=[_path_param("appointment_id")],
            requestBody=_body({"reason": _STR, "override_cutoff": {"type": "boolean"}}, []),
        )
    },
    "/api/v1/appointments/{appointment_id}/reschedule": {
        "post": _op(
            "Move to another slot (both changes commit together)",
            {
                **_ok(_ref("Appointment"), "The new appointment", 201),
                **_errors(401, 403, 404, 409, 422),
            },
            parameters=[_path_param("appointment_id")],
            requestBody=_body(
                {"slot_id": _INT, "override_cutoff": {"type": "boolean"}}, ["slot_id"]
            ),
        )
    },
    "/api/v1/calls/{linkedid}": {
        "get": _op(
            "One call's record (audited)",
            {**_ok(_ref("Call"), "The call"), **_errors(401, 404, 422)},
            parameters=[_path_param("linkedid", "string")],
        )
    },
    "/api/v1/calls/{linkedid}/notes": {
        "post": _op(
            "Add a note to a call (stamped with time and user)",
            {**_ok(_ref("Call"), "The call"), **_errors(401, 403, 404, 422)},
            parameters=[_path_param("linkedid", "string")],
            requestBody=_body({"note": _STR}, ["note"]),
        )
    },
    "/api/v1/patients/{patient_id}/calls": {
        "get": _op(
            "A patient's latest calls (audited)",
            {**_ok({"type": "object"}, "Calls"), **_errors(401, 404, 422)},
            parameters=[_path_param("patient_id")],
        )
    },
    "/api/v1/complaints": {
        "post": _op(
            "File a complaint for a patient (optionally tied to a call)",
            {**_ok({"type": "object"}, "Filed", 201), **_errors(401, 403, 404, 422)},
            requestBody=_body(
                {
                    "patient_id": _INT,
                    "category": _STR,
                    "description": _STR,
                    "linkedid": _STR,
                    "severity": {"enum": ["low", "medium", "high", "critical"]},
                    "department_id": _INT,
                },
                ["patient_id", "category", "description"],
            ),
        )
    },
}

# Methods on paths the foundation document already has.
PATIENT_WRITES: dict[str, Any] = {
    "post": _op(
        "Register a patient (a record number is made when none is given)",
        {**_ok({"type": "object"}, "Registered", 201), **_errors(401, 403, 409, 422)},
        requestBody=_body(
            {
                "given_name": _STR,
                "family_name": _STR,
                "date_of_birth": {"type": "string", "format": "date"},
                "sex": {"type": "string", "enum": ["female", "male", "other", "unknown"]},
                "phone": _STR,
                "mrn": _STR,
                "preferred_language": _STR,
            },
            ["date_of_birth"],
        ),
    )
}
PATIENT_EDIT: dict[str, Any] = {
    "patch": _op(
        "Edit a patient (only the fields given); audited with the field names",
        {**_ok({"type": "object"}, "The fields changed"), **_errors(401, 403, 404, 422)},
        parameters=[_path_param("patient_id")],
        requestBody=_body(
            {
                name: _STR
                for name in (
                    "given_name",
                    "family_name",
                    "date_of_birth",
                    "sex",
                    "preferred_language",
                    "email",
                    "address",
                    "primary_phone",
                    "notes",
                )
            }
            | {"do_not_call": {"type": "boolean"}, "consent_call": {"type": "boolean"}}
            | {"vip": {"type": "boolean"}, "chronic_care": {"type": "boolean"}},
            [],
        ),
    )
}


def add_desk_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Merge the desk's schemas and paths into the console's OpenAPI document."""
    components = document["components"]
    components["schemas"] = {**components["schemas"], **DESK_SCHEMAS}
    paths = document["paths"]
    paths.update(DESK_PATHS)
    paths.setdefault("/api/v1/patients", {}).update(PATIENT_WRITES)
    paths.setdefault("/api/v1/patients/{patient_id}", {}).update(PATIENT_EDIT)
    return document
