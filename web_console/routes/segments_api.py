"""Segments and patient tags over /api/v1: supervisors and admins (agents are refused).

Segments: list (with their member counts and the RFM groups' counts), create, read, update,
delete, a page of members, and the members as CSV (the export is audited). Tags: list, create,
and tag or untag a patient (audited on the patient). Refusals name the field
(``definition.tags``, ``definition.rfm.r_max``...).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.services import patient_tags
from hcrm_core.services.rfm import GROUP_LABELS
from web_console.access import SUPERVISORS, actor_for, allow
from web_console.json_body import Body, read_body
from web_console.keys import DATABASE
from web_console.report_views import csv_response
from web_console.segment_views import (
    member_json,
    members_table,
    segment_id_from,
    segment_json,
    segment_service,
    today_of,
)
from web_console.views import int_param, only_params, patient_id_from

routes = web.RouteTableDef()
SEGMENTS = "/api/v1/segments"
TAGS = "/api/v1/patient-tags"
MAX_PER_PAGE = 200


class SegmentBody(Body):
    def definition(self) -> Any:
        """The definition as sent; :mod:`hcrm_core.services.segments_definition` checks it."""
        if not self.present("definition"):
            raise ValidationFailed("definition", "is required")
        return self._get("definition")


def _fields(body: Body) -> tuple[str, str | None, Any]:
    fields = SegmentBody(body._values)
    name = fields.required_text("name", max_length=120)
    description = fields.text("description", max_length=500)
    definition = fields.definition()
    fields.done()
    return name, description, definition


@routes.get(SEGMENTS)
@allow(SUPERVISORS)
async def list_segments(request: web.Request) -> web.Response:
    only_params(request, set())
    service = segment_service(request)
    counts = await service.rfm_counts()
    return web.json_response(
        {
            "segments": [segment_json(s, n) for s, n in await service.all()],
            "rfm_groups": [
                {"group": group, "label": GROUP_LABELS[group], "patients": count}
                for group, count in counts.items()
            ],
        }
    )


@routes.post(SEGMENTS)
@allow(SUPERVISORS)
async def create_segment(request: web.Request) -> web.Response:
    name, description, definition = _fields(await read_body(request))
    segment = await segment_service(request).create(
        name, description, definition, actor_for(request)
    )
    return web.json_response(segment_json(segment), status=201)


@routes.get(SEGMENTS + "/{segment_id}")
@allow(SUPERVISORS)
async def get_segment(request: web.Request) -> web.Response:
    only_params(request, set())
    service = segment_service(request)
    segment_id = segment_id_from(request)
    segment = await service.get(segment_id)
    total, _ = await service.members(segment_id, limit=0)
    return web.json_response(segment_json(segment, total))


@routes.put(SEGMENTS + "/{segment_id}")
@allow(SUPERVISORS)
async def update_segment(request: web.Request) -> web.Response:
    segment_id = segment_id_from(request)
    name, description, definition = _fields(await read_body(request))
    segment = await segment_service(request).update(
        segment_id, name, description, definition, actor_for(request)
    )
    return web.json_response(segment_json(segment))


@routes.delete(SEGMENTS + "/{segment_id}")
@allow(SUPERVISORS)
async def delete_segment(request: web.Request) -> web.Response:
    await segment_service(request).delete(segment_id_from(request), actor_for(request))
    return web.Response(status=204)


@routes.get(SEGMENTS + "/{segment_id}/members")
@allow(SUPERVISORS)
async def segment_members(request: web.Request) -> web.Response:
    only_params(request, {"page", "per_page"})
    page = int_param(request.query.get("page"), "page", default=1, low=1, high=1_000_000)
    per_page = int_param(
        request.query.get("per_page"), "per_page", default=50, low=1, high=MAX_PER_PAGE
    )
    total, members = await segment_service(request).members(
        segment_id_from(request), offset=(page - 1) * per_page, limit=per_page
    )
    today = today_of(request)
    return web.json_response(
        {
            "total": total,
            "page": page,
            "per_page": per_page,
            "members": [member_json(m, today) for m in members],
        }
    )


@routes.get(SEGMENTS + "/{segment_id}/members.csv")
@allow(SUPERVISORS)
async def export_members(request: web.Request) -> web.Response:
    only_params(request, set())
    segment_id = segment_id_from(request)
    _segment, members = await segment_service(request).export(segment_id, actor_for(request))
    return csv_response(members_table(members, today_of(request)), f"segment-{segment_id}.csv")


# -- tags ------------------------------------------------------------------------------------------


@routes.get(TAGS)
@allow(SUPERVISORS)
async def list_tags(request: web.Request) -> web.Response:
    only_params(request, set())
    tags = await patient_tags.list_tags(request.app[DATABASE])
    return web.json_response(
        {
            "tags": [
                {"name": t.name, "description": t.description, "patients": t.patients} for t in tags
            ]
        }
    )


@routes.post(TAGS)
@allow(SUPERVISORS)
async def create_tag(request: web.Request) -> web.Response:
    body = await read_body(request)
    name = body.required_text("name", max_length=40)
    description = body.text("description", max_length=200)
    body.done()
    tag = await patient_tags.create_tag(
        request.app[DATABASE], name, description, actor_for(request)
    )
    return web.json_response({"name": tag.name, "description": tag.description}, status=201)


async def _set_tag(request: web.Request, *, on: bool) -> web.Response:
    patient_id = patient_id_from(request)
    database = request.app[DATABASE]
    await patient_tags.set_tag(
        database, patient_id, request.match_info["tag"], actor_for(request), on=on
    )
    return web.json_response({"tags": await patient_tags.tags_of(database, patient_id)})


@routes.put("/api/v1/patients/{patient_id}/tags/{tag}")
@allow(SUPERVISORS)
async def tag_patient(request: web.Request) -> web.Response:
    return await _set_tag(request, on=True)


@routes.delete("/api/v1/patients/{patient_id}/tags/{tag}")
@allow(SUPERVISORS)
async def untag_patient(request: web.Request) -> web.Response:
    return await _set_tag(request, on=False)
