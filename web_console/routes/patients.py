"""Agent pages: patient search and the patient card."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.services import patient_tags
from web_console.access import STAFF, SUPERVISORS, allow, require_session
from web_console.keys import DATABASE
from web_console.pages import page
from web_console.patient_access import search_patients, view_patient
from web_console.routes.work_pages import patient_work
from web_console.views import only_params, patient_id_from

routes = web.RouteTableDef()
PAGE_SIZE = 25


@routes.get("/patients")
@allow(STAFF)
@page("patients.html")
async def search_page(request: web.Request) -> dict[str, Any]:
    only_params(request, {"q"})
    query = request.query.get("q", "")
    results = await search_patients(request, query, PAGE_SIZE) if query.strip() else None
    return {"query": query, "results": results, "page_size": PAGE_SIZE}


@routes.get("/patients/{patient_id}")
@allow(STAFF)
@page("patient_card.html")
async def card_page(request: web.Request) -> dict[str, Any]:
    only_params(request, set())
    patient_id = patient_id_from(request)
    return {
        "patient": await view_patient(request, patient_id),
        **await patient_work(request, patient_id),
        **await _tags(request, patient_id),
    }


async def _tags(request: web.Request, patient_id: int) -> dict[str, Any]:
    """The patient's tags; supervisors and admins also get the tags they may add."""
    database = request.app[DATABASE]
    carried = await patient_tags.tags_of(database, patient_id)
    can_tag = require_session(request).role in SUPERVISORS
    offered = await patient_tags.list_tags(database) if can_tag else []
    return {
        "patient_tags": carried,
        "can_tag": can_tag,
        "tags_to_add": [t.name for t in offered if t.name not in carried],
    }
