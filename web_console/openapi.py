"""The OpenAPI 3.1 document for /api/v1, written by hand next to the routes it describes."""

from __future__ import annotations

from typing import Any

from web_console.openapi_desk import add_desk_paths
from web_console.openapi_doctors import add_doctors_paths
from web_console.openapi_hours import add_hours_paths
from web_console.openapi_privacy import add_privacy_paths
from web_console.openapi_queues import add_queues_paths
from web_console.openapi_recordings import add_recordings_paths
from web_console.openapi_reports import add_reports_paths
from web_console.openapi_segments import add_segments_paths
from web_console.openapi_slots import add_slots_paths
from web_console.openapi_users import add_users_paths
from web_console.openapi_work import add_work_paths

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad request",
        401: "Not logged in",
        403: "Role not allowed, or missing CSRF token",
        404: "Not found",
        422: "A field is invalid; `field` names it",
    }
    return {
        str(code): {
            "description": text[code],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for code in codes
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message", "field"],
        "properties": {
            "error": {"type": "string", "examples": ["invalid", "patient_not_found"]},
            "message": {"type": "string"},
            "field": {"type": ["string", "null"], "description": "the bad field, if one"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "when several fields are bad at once: each with its message",
            },
        },
    },
    "PatientSummary": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "mrn": {"type": "string"},
            "name": {"type": "string"},
            "date_of_birth": {"type": "string", "format": "date"},
            "age": {"type": "integer"},
            "sex": {"type": "string", "enum": ["female", "male", "other", "unknown"]},
            "phone": {"type": ["string", "null"], "description": "primary phone, E.164"},
            "vip": {"type": "boolean"},
        },
    },
    "PatientCard": {
        "allOf": [
            {"$ref": "#/components/schemas/PatientSummary"},
            {
                "type": "object",
                "properties": {
                    "given_name": {"type": "string"},
                    "family_name": {"type": "string"},
                    "preferred_language": {"type": "string"},
                    "do_not_call": {"type": "boolean"},
                    "consent_call": {"type": "boolean"},
                    "active": {"type": "boolean"},
                    "allergies": {"type": "array", "items": {"type": "object"}},
                    "conditions": {"type": "array", "items": {"type": "object"}},
                    "phones": {"type": "array", "items": {"type": "object"}},
                    "appointments": {"type": "array", "items": {"type": "object"}},
                },
            },
        ]
    },
}


def openapi_document() -> dict[str, Any]:
    staff: list[dict[str, list[str]]] = [{"session": []}]
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Hospital call-center console API",
            "version": "1",
            "description": (
                "Session-cookie authentication (log in at /login). State-changing calls must "
                "send the session's CSRF token in the X-CSRF-Token header. Every patient read "
                "is written to the audit log."
            ),
        },
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"}
            },
            "schemas": _SCHEMAS,
        },
        "paths": {
            "/api/v1/patients": {
                "get": {
                    "summary": "Search patients by name, record number or phone",
                    "x-roles": ["agent", "supervisor", "admin"],
                    "security": staff,
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 100},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 100,
                                "default": 20,
                            },
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "patients": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/PatientSummary"},
                                    },
                                    "count": {"type": "integer"},
                                },
                            },
                            "Matching patients",
                        ),
                        **_errors(401, 403, 422),
                    },
                }
            },
            "/api/v1/patients/{patient_id}": {
                "get": {
                    "summary": "A patient's card (audited)",
                    "x-roles": ["agent", "supervisor", "admin"],
                    "security": staff,
                    "parameters": [
                        {
                            "name": "patient_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/PatientCard"}, "The card"),
                        **_errors(401, 403, 404, 422),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Health of the database, AMI link and FastAGI server (public: "
                    "status and parts only; details with a supervisor's or admin's session)",
                    "security": [],
                    "responses": {
                        "200": _json({"type": "object"}, "ok or degraded"),
                        "503": _json({"type": "object"}, "down: the database is unavailable"),
                    },
                }
            },
        },
    }
    add_users_paths(document)  # console users (web_console/openapi_users.py)
    add_queues_paths(document)  # call queues and skills (web_console/openapi_queues.py)
    add_slots_paths(document)  # schedule conflicts (web_console/openapi_slots.py)
    add_hours_paths(document)  # opening hours, holidays (web_console/openapi_hours.py)
    add_reports_paths(document)  # reports (web_console/openapi_reports.py)
    add_segments_paths(document)  # segments, patient tags (web_console/openapi_segments.py)
    # The agent desk, appointments, calls and complaints (web_console/openapi_desk.py).
    # Doctors and departments last: they add POST to the desk's /api/v1/departments.
    document = add_doctors_paths(add_privacy_paths(add_recordings_paths(add_desk_paths(document))))
    return add_work_paths(document)  # tasks, complaints (web_console/openapi_work.py)
