"""Patient search, the patient card and the JSON API: audited, escaped, 4xx on bad input."""

from __future__ import annotations

import html
import logging
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.errors import Conflict, PatientNotFound, SlotTaken, ValidationFailed
from hcrm_core.models import AuditAction, AuditEvent
from tests.support.console import (
    ConsoleWorld,
    login,
    start_console_world,
)
from web_console.access import STAFF, allow
from web_console.app import create_app


async def _audit_for(world: ConsoleWorld, patient_id: int) -> list[AuditEvent]:
    async with world.server.database.session() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.patient_id == patient_id, AuditEvent.action == AuditAction.VIEW)
            .order_by(AuditEvent.id)
        )
        return list(rows)


@pytest.fixture
async def agent(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "alice")).status == 302
    return client


@pytest.mark.parametrize("query", ["hopperton", "Grace Hop", "mrn-4242", "212-555-0142"])
async def test_search_page_finds_by_name_record_number_or_phone(world, agent, query):
    response = await agent.get("/patients", params={"q": query})
    assert response.status == 200
    body = await response.text()
    assert f'href="/patients/{world.grace.id}"' in body
    assert "MRN-4242" in body


async def test_search_without_matches_says_so(agent):
    body = await (await agent.get("/patients", params={"q": "zzzznobody"})).text()
    assert 'id="no-results"' in body


async def test_card_shows_the_patient_and_every_view_is_audited(world, agent):
    before = len(await _audit_for(world, world.grace.id))
    response = await agent.get(f"/patients/{world.grace.id}")
    assert response.status == 200
    body = await response.text()
    for expected in ("Grace Hopperton", "MRN-4242", "+12125550142", "Cardiology", "female"):
        assert expected in body
    await agent.get(f"/patients/{world.grace.id}")
    rows = (await _audit_for(world, world.grace.id))[before:]
    assert len(rows) == 2
    assert {(r.actor, r.actor_user_id, r.source, r.entity) for r in rows} == {
        ("user:alice", world.agent_id, "127.0.0.1", "patient")
    }


async def test_a_script_in_a_name_is_shown_as_text(world, agent):
    for path in (f"/patients/{world.script.id}", "/patients?q=evil"):
        body = await (await agent.get(path)).text()
        assert "<script>alert(1)</script>" not in body
        assert html.escape("<script>alert(1)</script>") in body


async def test_api_search_and_card(world, agent):
    found = await agent.get("/api/v1/patients", params={"q": "hopperton", "limit": "5"})
    assert found.status == 200
    body = await found.json()
    assert body["count"] == 1
    assert body["patients"][0]["mrn"] == "MRN-4242"
    assert "allergies" not in body["patients"][0]  # a search shows no clinical details
    before = len(await _audit_for(world, world.grace.id))
    card = await (await agent.get(f"/api/v1/patients/{world.grace.id}")).json()
    assert card["name"] == "Grace Hopperton"
    assert card["phones"] == [{"number": "+12125550142", "kind": "mobile", "primary": True}]
    assert card["appointments"][0]["department"] == "Cardiology"
    assert len(await _audit_for(world, world.grace.id)) == before + 1


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/v1/patients", 422, "q"),
        ("/api/v1/patients?q=%20%20", 422, "q"),
        ("/api/v1/patients?q=grace&limit=lots", 422, "limit"),
        ("/api/v1/patients?q=grace&limit=0", 422, "limit"),
        ("/api/v1/patients?q=grace&limit=101", 422, "limit"),
        ("/api/v1/patients?q=grace&colour=blue", 422, "colour"),
        (f"/api/v1/patients?q={'x' * 101}", 422, "q"),
        ("/api/v1/patients/abc", 422, "patient_id"),
        ("/api/v1/patients/-1", 422, "patient_id"),
        ("/api/v1/patients/99999999999999999999", 422, "patient_id"),
        ("/api/v1/patients/999999", 404, None),
        ("/api/v1/nothing-here", 404, None),
    ],
)
async def test_bad_api_input_is_a_4xx_naming_the_field(agent, path, status, field):
    response = await agent.get(path)
    assert response.status == status
    body = await response.json()
    assert body["field"] == field
    if field:
        assert field in body["message"]


async def test_bad_page_input_is_a_4xx_page(world, agent):
    response = await agent.get("/patients/abc")
    assert response.status == 422
    assert "patient_id" in await response.text()
    assert (await agent.get("/patients/999999")).status == 404


async def test_domain_errors_never_become_500_and_crashes_log_no_patient_data(
    world, aiohttp_client, caplog
):
    raised: list[Exception] = [
        PatientNotFound("no such patient"),
        SlotTaken("someone was faster"),
        Conflict("conflict"),
        ValidationFailed("date_of_birth", "cannot be in the future"),
        RuntimeError("Grace Hopperton +12125550142"),
    ]

    async def boom(request: web.Request) -> web.Response:
        raise raised[int(request.match_info["n"])]

    app = create_app(world.server.console_deps())
    app.router.add_get("/api/v1/boom/{n}", allow(STAFF)(boom))
    client = await aiohttp_client(app)
    await login(client, "alice")
    statuses = []
    for n in range(4):
        response = await client.get(f"/api/v1/boom/{n}")
        statuses.append((response.status, (await response.json())["error"]))
    assert statuses == [
        (404, "patient_not_found"),
        (409, "slot_taken"),
        (409, "conflict"),
        (422, "invalid"),
    ]
    with caplog.at_level(logging.ERROR):
        crash = await client.get("/api/v1/boom/4")
    assert crash.status == 500
    assert (await crash.json())["error"] == "internal_error"
    assert "RuntimeError" in caplog.text
    assert "Grace" not in caplog.text
    assert "555" not in caplog.text


async def test_openapi_document_describes_the_api(agent):
    doc = await (await agent.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    assert {"/api/v1/patients", "/api/v1/patients/{patient_id}", "/healthz"} <= set(doc["paths"])


async def test_card_view_is_audited_on_every_engine(
    database: Database, tmp_path: Path, aiohttp_client
):
    """The same console against each engine the `database` fixture provides (SQLite, PostgreSQL)."""
    await database.dispose()
    world = await start_console_world(tmp_path / "data", database.url)
    try:
        client = await aiohttp_client(create_app(world.server.console_deps()))
        assert (await login(client, "alice")).status == 302
        found = await (await client.get("/api/v1/patients", params={"q": "MRN-4242"})).json()
        assert [p["id"] for p in found["patients"]] == [world.grace.id]
        assert (await client.get(f"/patients/{world.grace.id}")).status == 200
        rows = await _audit_for(world, world.grace.id)
        assert [(r.actor, r.source) for r in rows] == [("user:alice", "127.0.0.1")]
    finally:
        await world.server.stop()
