"""Every /api/v1/tasks and /api/v1/complaints route is in the OpenAPI document with its roles."""

from __future__ import annotations

from aiohttp import web

from web_console.openapi import openapi_document
from web_console.routes import complaints_api, tasks_api


def test_every_task_and_complaint_route_is_documented():
    document = openapi_document()
    routes = [
        r
        for module in (tasks_api, complaints_api)
        for r in module.routes
        if isinstance(r, web.RouteDef)
    ]
    assert len(routes) == 13
    for route in routes:
        operation = document["paths"][route.path][route.method.lower()]
        expected = (
            ["supervisor", "admin"]
            if route.path.endswith("/assign")
            else ["agent", "supervisor", "admin"]
        )
        assert operation["x-roles"] == expected, route.path
        assert {"401", "403"} <= set(operation["responses"]), route.path
    # The desk's filing route is still there beside the list.
    assert {"get", "post"} <= set(document["paths"]["/api/v1/complaints"])
    assert {"Task", "Complaint", "Error"} <= set(document["components"]["schemas"])
