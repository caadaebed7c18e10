"""Every /api/v1/users route is in the OpenAPI document, with the admin role and its errors."""

from __future__ import annotations

from aiohttp import web

from web_console.openapi import openapi_document
from web_console.routes import users_api


def test_every_users_route_is_documented_for_admins():
    document = openapi_document()
    routes = [r for r in users_api.routes if isinstance(r, web.RouteDef)]
    assert len(routes) == 7
    for route in routes:
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["x-roles"] == ["admin"], route.path
        assert {"401", "403"} <= set(operation["responses"]), route.path
    schema = document["components"]["schemas"]["ConsoleUser"]
    assert {"must_change_password", "last_login_at", "extension"} <= set(schema["properties"])
    # The desk's and privacy's schemas are still there beside it.
    assert "Error" in document["components"]["schemas"]
