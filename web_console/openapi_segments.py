"""OpenAPI paths of segments and patient tags (web_console/routes/segments_api.py):
supervisors and admins; agents are refused."""

from __future__ import annotations

from typing import Any

from hcrm_core.services.rfm import RFM_GROUPS
from hcrm_core.services.segments_definition import AGE_BANDS

_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXT = {
    400: "The body is not a JSON object, or a string in it is not valid text",
    401: "Not logged in",
    403: "Not allowed for this role (agents), or a missing CSRF token",
    404: "No such segment or patient",
    409: "A draft, running or paused campaign targets this segment",
    422: "A field is invalid (an unknown tag, an empty definition, RFM bounds out of 1-5 or "
    "the lowest above the highest...); `field` names it (definition.tags, "
    "definition.rfm.r_max...)",
}
_ROLES = ["supervisor", "admin"]
_SCORE = {"type": "integer", "minimum": 1, "maximum": 5}
_DAYS = {"type": "integer", "minimum": 1, "maximum": 3650}
_LIST = {"type": "array", "items": {"type": "string"}}
DEFINITION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "description": "Every filter given must hold; values inside one list are alternatives, "
    "except tags (every tag listed).",
    "properties": {
        "tags": {**_LIST, "description": "Tag names; a member carries every one"},
        "conditions": {**_LIST, "description": "ICD-10 codes or their start (E11, I1)"},
        "age_bands": {"type": "array", "items": {"enum": list(AGE_BANDS)}},
        "languages": {**_LIST, "description": "Preferred language codes (en, zh)"},
        "vip": {"type": "boolean"},
        "chronic_care": {"type": "boolean"},
        "last_visit_within_days": _DAYS,
        "no_visit_for_days": {**_DAYS, "description": "Last visit longer ago (and ever)"},
        "rfm_groups": {"type": "array", "items": {"enum": list(RFM_GROUPS)}},
        "rfm": {
            "type": "object",
            "additionalProperties": False,
            "properties": {f"{score}_{end}": _SCORE for score in "rfm" for end in ("min", "max")},
        },
    },
}
SCHEMAS: dict[str, Any] = {
    "SegmentDefinition": DEFINITION,
    "Segment": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "name": {"type": "string", "maxLength": 120},
            "description": {"type": ["string", "null"], "maxLength": 500},
            "definition": {"$ref": "#/components/schemas/SegmentDefinition"},
            "members": {"type": "integer", "readOnly": True},
            "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
        },
    },
    "SegmentMember": {
        "type": "object",
        "properties": {
            "patient_id": {"type": "integer"},
            "mrn": {"type": "string"},
            "name": {"type": "string"},
            "age_band": {"enum": list(AGE_BANDS)},
            "language": {"type": "string"},
            "vip": {"type": "boolean"},
            "chronic_care": {"type": "boolean"},
            "last_visit": {"type": ["string", "null"], "format": "date-time"},
            "visits": {"type": "integer", "description": "Attended visits"},
            "monetary": {"type": "number", "description": "Sum of the visits' list fees"},
            "r": {"type": ["integer", "null"]},
            "f": {"type": ["integer", "null"]},
            "m": {"type": ["integer", "null"]},
            "rfm_group": {"enum": list(RFM_GROUPS)},
        },
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    *,
    ok: dict[str, Any],
    errors: tuple[int, ...],
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    responses = {
        **ok,
        **{
            str(code): {
                "description": _TEXT[code],
                "content": {"application/json": {"schema": _ERROR}},
            }
            for code in errors
        },
    }
    operation: dict[str, Any] = {"summary": summary, "x-roles": _ROLES, "responses": responses}
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "integer"}}


def _query(name: str, maximum: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": maximum}
    return {"name": name, "in": "query", "schema": schema}


_WRITE = {
    "type": "object",
    "required": ["name", "definition"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 120},
        "description": {"type": ["string", "null"], "maxLength": 500},
        "definition": _ref("SegmentDefinition"),
    },
}
_TAG: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,39}$"},
        "description": {"type": ["string", "null"], "maxLength": 200},
    },
}


def add_segments_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add /api/v1/segments, /api/v1/patient-tags and a patient's tags."""
    components = document["components"]
    components["schemas"] = {**components["schemas"], **SCHEMAS}
    paths = document["paths"]
    segment_id = _path("segment_id")
    listing = {
        "type": "object",
        "properties": {
            "segments": {"type": "array", "items": _ref("Segment")},
            "rfm_groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "group": {"enum": list(RFM_GROUPS)},
                        "label": {"type": "string"},
                        "patients": {"type": "integer"},
                    },
                },
            },
        },
    }
    paths["/api/v1/segments"] = {
        "get": _op(
            "Every segment with its members now, and the patients per RFM group",
            ok={"200": _json(listing, "The segments")},
            errors=(401, 403, 422),
        ),
        "post": _op(
            "Create a segment (audited)",
            ok={"201": _json(_ref("Segment"), "Created")},
            errors=(400, 401, 403, 422),
            body=_WRITE,
        ),
    }
    paths["/api/v1/segments/{segment_id}"] = {
        "get": _op(
            "One segment and its number of members",
            ok={"200": _json(_ref("Segment"), "The segment")},
            errors=(401, 403, 404, 422),
            parameters=[segment_id],
        ),
        "put": _op(
            "Change a segment's name, description and definition (audited)",
            ok={"200": _json(_ref("Segment"), "Saved")},
            errors=(400, 401, 403, 404, 422),
            body=_WRITE,
            parameters=[segment_id],
        ),
        "delete": _op(
            "Delete a segment no live campaign targets (audited)",
            ok={"204": {"description": "Deleted"}},
            errors=(401, 403, 404, 409, 422),
            parameters=[segment_id],
        ),
    }
    _add_member_paths(paths, segment_id)
    _add_tag_paths(paths)
    return document


def _add_member_paths(paths: dict[str, Any], segment_id: dict[str, Any]) -> None:
    page = {
        "type": "object",
        "properties": {
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "members": {"type": "array", "items": _ref("SegmentMember")},
        },
    }
    paths["/api/v1/segments/{segment_id}/members"] = {
        "get": _op(
            "One page of the segment's members now, by name",
            ok={"200": _json(page, "The page")},
            errors=(401, 403, 404, 422),
            parameters=[segment_id, _query("page", 1_000_000), _query("per_page", 200)],
        )
    }
    paths["/api/v1/segments/{segment_id}/members.csv"] = {
        "get": _op(
            "Every member as CSV (the export is audited)",
            ok={"200": {"description": "CSV", "content": {"text/csv": {}}}},
            errors=(401, 403, 404, 422),
            parameters=[segment_id],
        )
    }


def _add_tag_paths(paths: dict[str, Any]) -> None:
    tags = {
        "type": "object",
        "properties": {
            "tags": {
                "type": "array",
                "items": {
                    **_TAG,
                    "properties": {**_TAG["properties"], "patients": {"type": "integer"}},
                },
            }
        },
    }
    paths["/api/v1/patient-tags"] = {
        "get": _op(
            "Every tag with its number of patients",
            ok={"200": _json(tags, "The tags")},
            errors=(401, 403, 422),
        ),
        "post": _op(
            "Create a tag (audited)",
            ok={"201": _json(_TAG, "Created")},
            errors=(400, 401, 403, 422),
            body=_TAG,
        ),
    }
    carried = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
    }
    tag_params = [_path("patient_id"), _path("tag", {"type": "string"})]
    paths["/api/v1/patients/{patient_id}/tags/{tag}"] = {
        "put": _op(
            "Tag a patient (audited on the patient); no change if already tagged",
            ok={"200": _json(carried, "The patient's tags")},
            errors=(401, 403, 404, 422),
            parameters=tag_params,
        ),
        "delete": _op(
            "Untag a patient (audited on the patient)",
            ok={"200": _json(carried, "The patient's tags")},
            errors=(401, 403, 404, 422),
            parameters=tag_params,
        ),
    }
