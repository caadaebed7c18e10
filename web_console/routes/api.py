"""The JSON API under /api/v1: the same roles and audit as the pages (users: users_api.py)."""

from __future__ import annotations

from aiohttp import web

from web_console.access import STAFF, allow, public
from web_console.openapi import openapi_document
from web_console.patient_access import search_patients, view_patient
from web_console.views import int_param, only_params, patient_id_from

routes = web.RouteTableDef()
PREFIX = "/api/v1"
SEARCH_LIMIT_DEFAULT = 20
SEARCH_LIMIT_MAX = 100


@routes.get(f"{PREFIX}/patients")
@allow(STAFF)
async def list_patients(request: web.Request) -> web.Response:
    only_params(request, {"q", "limit"})
    limit = int_param(
        request.query.get("limit"),
        "limit",
        default=SEARCH_LIMIT_DEFAULT,
        low=1,
        high=SEARCH_LIMIT_MAX,
    )
    results = await search_patients(request, request.query.get("q", ""), limit)
    return web.json_response({"patients": results, "count": len(results)})


@routes.get(f"{PREFIX}/patients/{{patient_id}}")
@allow(STAFF)
async def get_patient(request: web.Request) -> web.Response:
    only_params(request, set())
    return web.json_response(await view_patient(request, patient_id_from(request)))


@routes.get(f"{PREFIX}/openapi.json")
@public
async def openapi(request: web.Request) -> web.Response:
    """The API's description: public, it holds no data."""
    return web.json_response(openapi_document())
