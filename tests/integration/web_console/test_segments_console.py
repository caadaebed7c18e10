"""Segments from the console: the API (list, create, update, delete, members, CSV export
audited), refusals naming the field, roles (agents refused), the pages and their form, tags
from the patient card, and the campaign form's segment target."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from hcrm_core.models import AuditAction, AuditEvent
from hcrm_core.services.patient_tags import tags_of
from tests.support.console import ConsoleWorld, csrf_from, login
from tests.support.segment_data import SegmentWorld, seed_segments_world
from web_console.app import create_app
from web_console.keys import CSRF_FIELD

API = "/api/v1/segments"


@pytest.fixture(scope="module")
async def seeded(world: ConsoleWorld) -> tuple[ConsoleWorld, SegmentWorld]:
    server = world.server
    return world, await seed_segments_world(server.database, server.settings.booking_policy())


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str) -> tuple[Any, str]:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    return client, csrf_from(await (await client.get("/")).text())


async def _send(client: Any, token: str, method: str, path: str, body: Any = None) -> Any:
    return await client.request(method, path, json=body, headers={"X-CSRF-Token": token})


async def test_segment_api_round_trip_and_audited_export(seeded, aiohttp_client) -> None:
    world, segments = seeded
    sam, token = await _client(world, aiohttp_client, "sam")
    created = await _send(
        sam,
        token,
        "POST",
        API,
        {"name": "API lapsed", "definition": {"rfm_groups": ["lapsed", "at_risk"]}},
    )
    assert created.status == 201, await created.text()
    segment_id = (await created.json())["id"]
    listed = await (await sam.get(API)).json()
    (mine,) = [s for s in listed["segments"] if s["id"] == segment_id]
    assert (mine["name"], mine["members"]) == ("API lapsed", 2)
    groups = {g["group"]: g["patients"] for g in listed["rfm_groups"]}
    assert groups["champions"] == 1 and groups["lapsed"] == 1
    page = await (await sam.get(f"{API}/{segment_id}/members?page=1&per_page=1")).json()
    assert (page["total"], len(page["members"])) == (2, 1)
    assert page["members"][0]["rfm_group"] in ("lapsed", "at_risk")
    updated = await _send(
        sam,
        token,
        "PUT",
        f"{API}/{segment_id}",
        {"name": "API lapsed", "definition": {"rfm_groups": ["lapsed"]}},
    )
    assert updated.status == 200
    export = await sam.get(f"{API}/{segment_id}/members.csv")
    assert export.status == 200 and export.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(await export.text())))
    assert rows[0][:3] == ["Patient id", "Record number", "Name"] and len(rows) == 2
    assert int(rows[1][0]) == segments.ids["E"]
    async with world.server.database.session() as session:
        audited = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.entity == "segment",
                AuditEvent.action == AuditAction.EXPORT,
                AuditEvent.entity_id == str(segment_id),
            )
        )
    assert audited is not None and audited.detail["members"] == 1
    assert (await _send(sam, token, "DELETE", f"{API}/{segment_id}")).status == 204
    assert (await sam.get(f"{API}/{segment_id}")).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "definition": {}}, "definition"),
        ({"name": "x", "definition": {"tags": ["no-such-tag"]}}, "definition.tags"),
        ({"name": "x", "definition": {"rfm": {"r_min": 5, "r_max": 1}}}, "definition.rfm.r_max"),
        ({"name": "x", "definition": {"rfm": {"f_min": 9}}}, "definition.rfm.f_min"),
        ({"name": "x"}, "definition"),
        ({"definition": {"vip": True}}, "name"),
        ({"name": "x", "definition": {"vip": True}, "colour": 1}, "colour"),
    ],
)
async def test_bad_segment_input_names_the_field(seeded, aiohttp_client, body, field) -> None:
    world, _ = seeded
    sam, token = await _client(world, aiohttp_client, "sam")
    answer = await _send(sam, token, "POST", API, body)
    assert 400 <= answer.status < 500
    found = await answer.json()
    assert found["field"] == field or field in found.get("fields", {}), found


async def test_agents_are_refused(seeded, aiohttp_client) -> None:
    world, _ = seeded
    alice, token = await _client(world, aiohttp_client, "alice")
    for path in (API, "/segments", "/api/v1/patient-tags"):
        assert (await alice.get(path)).status == 403
    answer = await _send(alice, token, "POST", API, {"name": "x", "definition": {"vip": True}})
    assert answer.status == 403


async def test_pages_form_refusals_and_tags_from_the_card(seeded, aiohttp_client) -> None:
    world, segments = seeded
    ada, token = await _client(world, aiohttp_client, "ada")
    listing = await ada.get("/segments")
    assert listing.status == 200
    assert 'id="rfm-groups"' in await listing.text()
    refused = await ada.post(
        "/segments",
        data={CSRF_FIELD: token, "name": "Form", "rfm.r_min": "4", "rfm.r_max": "2"},
    )
    html = await refused.text()
    assert refused.status == 422
    assert 'id="s-rfm-r_max-error"' in html and 'value="Form"' in html
    empty = await ada.post("/segments", data={CSRF_FIELD: token, "name": "Form"})
    assert empty.status == 422 and "give at least one filter" in await empty.text()
    saved = await ada.post(
        "/segments",
        data={CSRF_FIELD: token, "name": "Form", "tags": "diabetes", "vip": "yes"},
        allow_redirects=False,
    )
    assert saved.status == 303
    page = await ada.get(saved.headers["Location"])
    text = await page.text()
    assert page.status == 200 and f'data-patient="{segments.ids["B"]}"' in text
    patient = segments.ids["C"]
    tagged = await ada.post(
        f"/patients/{patient}/tags",
        data={CSRF_FIELD: token, "tag": "diabetes", "action": "add"},
        allow_redirects=False,
    )
    assert tagged.status == 303
    assert await tags_of(world.server.database, patient) == ["diabetes"]
    card = await (await ada.get(f"/patients/{patient}")).text()
    assert 'data-tag="diabetes"' in card and "Remove the tag diabetes" in card
    await ada.post(
        f"/patients/{patient}/tags", data={CSRF_FIELD: token, "tag": "diabetes", "action": "remove"}
    )
    assert await tags_of(world.server.database, patient) == []
    unknown = await ada.post(
        f"/patients/{patient}/tags", data={CSRF_FIELD: token, "tag": "nope", "action": "add"}
    )
    assert unknown.status == 422


async def test_campaign_form_offers_segments_and_refuses_unknown_ones(
    seeded, aiohttp_client
) -> None:
    world, _ = seeded
    ada, token = await _client(world, aiohttp_client, "ada")
    page = await (await ada.get("/campaigns")).text()
    assert 'name="targets.segment_id"' in page
    refused = await ada.post(
        "/campaigns",
        data={
            CSRF_FIELD: token,
            "name": "To nobody",
            "kind": "survey",
            "targets.segment_id": "99999",
            "window.start": "09:00",
            "window.end": "17:00",
            "window.weekdays.0": "on",
        },
    )
    assert refused.status == 422
    assert 'id="c-targets-segment_id-error"' in await refused.text()


async def test_every_segment_api_route_is_in_the_openapi_document(seeded, aiohttp_client) -> None:
    world, _ = seeded
    sam, _token = await _client(world, aiohttp_client, "sam")
    document = await (await sam.get("/api/v1/openapi.json")).json()
    app = create_app(world.server.console_deps())
    missing = [
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and ("segments" in route.resource.canonical or "tags" in route.resource.canonical)
        and route.resource.canonical.startswith("/api/v1")
        and route.method != "HEAD"
        and route.method.lower() not in document["paths"].get(route.resource.canonical, {})
    ]
    assert missing == []
