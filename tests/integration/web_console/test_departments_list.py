"""GET /api/v1/departments: the active short list for everyone (unchanged), and inactive ones
with every field for supervisors and admins (``?active=``); the OpenAPI document says so."""

from __future__ import annotations

from typing import Any

from hcrm_core.models import Department
from tests.support.console import ConsoleWorld, login
from web_console.app import create_app


async def _as(world: ConsoleWorld, aiohttp_client: Any, user: str) -> Any:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    return client


async def test_departments_by_activity(world: ConsoleWorld, aiohttp_client: Any) -> None:
    async with world.server.database.transaction() as session:
        session.add(Department(code="OLDW", name="Old ward", active=False, menu_order=99))
    alice = await _as(world, aiohttp_client, "alice")
    sam = await _as(world, aiohttp_client, "sam")

    for client in (alice, sam):  # the desk's list: active ones, three fields, as before
        listed = await (await client.get("/api/v1/departments")).json()
        assert listed["departments"] and "OLDW" not in {d["code"] for d in listed["departments"]}
        assert all(set(d) == {"id", "code", "name"} for d in listed["departments"])

    refused = await alice.get("/api/v1/departments?active=all")
    assert refused.status == 403 and (await refused.json())["field"] == "active"

    every = (await (await sam.get("/api/v1/departments?active=all")).json())["departments"]
    old = next(d for d in every if d["code"] == "OLDW")
    assert old == {
        "id": old["id"],
        "code": "OLDW",
        "name": "Old ward",
        "names": {},
        "synonyms": [],
        "menu_order": 99,
        "active": False,
    }
    inactive = (await (await sam.get("/api/v1/departments?active=false")).json())["departments"]
    assert [d["code"] for d in inactive] == ["OLDW"]
    active = (await (await sam.get("/api/v1/departments?active=true")).json())["departments"]
    assert {d["code"] for d in active} == {d["code"] for d in every if d["active"]}

    bad = await sam.get("/api/v1/departments?active=maybe")
    assert bad.status == 422 and (await bad.json())["field"] == "active"
    odd = await sam.get("/api/v1/departments?inactive=1")
    assert odd.status == 422

    document = await (await sam.get("/api/v1/openapi.json")).json()
    listing = document["paths"]["/api/v1/departments"]
    assert {"get", "post"} <= set(listing)
    assert listing["get"]["parameters"][0]["name"] == "active"
