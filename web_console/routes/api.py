"""The JSON API under /api/v1: the same roles and audit as the pages."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import User
from hcrm_core.services.users import set_extension
from web_console.access import ADMINS, STAFF, actor_for, allow, public
from web_console.json_body import read_body
from web_console.keys import DATABASE
from web_console.openapi import openapi_document
from web_console.patient_access import search_patients, view_patient
from web_console.views import id_from, int_param, only_params, patient_id_from

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


@routes.get(f"{PREFIX}/users")
@allow(ADMINS)
async def list_users(request: web.Request) -> web.Response:
    async with request.app[DATABASE].session() as session:
        users = list(await session.scalars(select(User).order_by(User.username)))
    return web.json_response({"users": [_user_json(u) for u in users]})


def _user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "extension": user.extension,
        "active": user.active,
    }


@routes.patch(f"{PREFIX}/users/{{user_id}}")
@allow(ADMINS)
async def edit_user(request: web.Request) -> web.Response:
    """Assign a user's phone extension (null clears it): the one they may sign in on. Audited."""
    user_id = id_from(request.match_info["user_id"], "user_id")
    body = await read_body(request)
    if not body.present("extension"):
        raise ValidationFailed("extension", "is required (null clears it)")
    extension = body.text("extension", max_length=8) or None
    body.done()
    user = await set_extension(request.app[DATABASE], user_id, extension, actor_for(request))
    return web.json_response(_user_json(user))


@routes.get(f"{PREFIX}/openapi.json")
@public
async def openapi(request: web.Request) -> web.Response:
    """The API's description: public, it holds no data."""
    return web.json_response(openapi_document())
