"""OpenAPI paths of a patient's export and erasure (web_console/routes/privacy.py)."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXT = {
    401: "Not logged in",
    403: "Not an admin, or missing CSRF token",
    404: "No such patient",
    409: "A legal hold covers one of the patient's recordings (`recording_ids`); nothing erased",
    422: "A field is invalid; `field` names it",
}
_PATIENT_ID = {"name": "patient_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": _TEXT[code], "content": {"application/json": {"schema": _ERROR}}}
        for code in codes
    }


def add_privacy_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add the export and erase paths to ``document`` and return it."""
    admins: list[dict[str, list[str]]] = [{"session": []}]
    paths = document["paths"]
    paths["/api/v1/patients/{patient_id}/export"] = {
        "get": {
            "summary": "Everything held about a patient as one JSON bundle (audited)",
            "description": "The record, appointments, calls and their raw events, recordings' "
            "metadata, transcripts (decrypted), campaign attempts, survey answers, complaints, "
            "follow-ups and the audit trail of who looked. Sent as an attachment, not cached.",
            "x-roles": ["admin"],
            "security": admins,
            "parameters": [_PATIENT_ID],
            "responses": {
                "200": {
                    "description": "The bundle (format hcrm-patient-export/1)",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_errors(401, 403, 404, 422),
            },
        }
    }
    paths["/api/v1/patients/{patient_id}/erase"] = {
        "post": {
            "summary": "Erase a patient: anonymise the record, delete personal rows and "
            "recordings (audited; cannot be undone)",
            "description": "Refused with 409 while a legal hold covers any of the patient's "
            "recordings. The audit log is kept; the erasure's audit row holds counts only.",
            "x-roles": ["admin"],
            "security": admins,
            "parameters": [_PATIENT_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["confirm"],
                            "additionalProperties": False,
                            "properties": {"confirm": {"const": True}},
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "Erased; what was changed, counted",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_errors(401, 403, 404, 409, 422),
            },
        }
    }
    return document
