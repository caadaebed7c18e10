"""Call queues from the console: API and pages, roles, CSRF, refusals naming the field, audit,
the OpenAPI document, and the patient card's queue-priority flags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hcrm_core.models import AuditEvent, Patient
from tests.support.console import ConsoleWorld, csrf_from, login
from web_console.app import create_app
from web_console.keys import CSRF_FIELD


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str) -> tuple[Any, str]:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    return client, csrf_from(await (await client.get("/")).text())


async def _call(client: Any, token: str, method: str, path: str, body: Any = None) -> Any:
    response = await client.request(method, path, json=body, headers={"X-CSRF-Token": token})
    return response.status, await response.json()


async def _audits(world: ConsoleWorld, entity: str) -> list[AuditEvent]:
    async with world.server.database.session() as session:
        rows = await session.scalars(select(AuditEvent).where(AuditEvent.entity == entity))
        return list(rows)


async def test_roles_csrf_and_the_two_default_queues(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    agent, _ = await _client(world, aiohttp_client, "alice")
    for path in ("/admin/queues", "/api/v1/queues", "/api/v1/skills"):
        assert (await agent.get(path)).status == 403, path
    sam, token = await _client(world, aiohttp_client, "sam")
    status, listed = await _call(sam, token, "GET", "/api/v1/queues")
    assert status == 200
    assert [(q["name"], q["menu_digit"], q["members"]["everyone"]) for q in listed["queues"]][
        :2
    ] == [("appointments", "0", True), ("enquiries", None, True)]
    status, _ = await _call(sam, token, "PATCH", "/api/v1/queues/enquiries", {"ring_timeout": 20})
    assert status == 403
    page = await (await sam.get("/admin/queues")).text()
    assert 'id="queues"' in page and 'id="new-queue"' not in page
    ada, _ = await _client(world, aiohttp_client, "ada")
    answer = await ada.post("/api/v1/queues", json={"name": "x", "display_name": "X"})
    assert answer.status == 403  # no CSRF token


async def test_create_change_members_and_skills_through_the_api(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    ada, token = await _client(world, aiohttp_client, "ada")
    status, skills = await _call(
        ada, token, "PUT", f"/api/v1/skills/{world.agent_id}", {"skills": ["Cardiology"]}
    )
    assert (status, skills["skills"]) == (200, ["cardiology"])
    status, queue = await _call(
        ada,
        token,
        "POST",
        "/api/v1/queues",
        {
            "name": "cardio-api",
            "display_name": "Cardiology nurses",
            "menu_digit": "5",
            "max_wait_seconds": 120,
            "overflow": "queue",
            "overflow_queue": "enquiries",
            "members": {"skills": ["cardiology"]},
        },
    )
    assert status == 201, queue
    assert (queue["menu_digit"], queue["overflow_queue"], queue["members"]["skills"]) == (
        "5",
        "enquiries",
        ["cardiology"],
    )
    # No Asterisk configuration directory in this world: saved, and the answer says why not applied.
    assert queue["applied"] is False and "config_dir" in queue["apply_error"]
    status, changed = await _call(
        ada, token, "PATCH", "/api/v1/queues/cardio-api", {"wrapup_seconds": 0, "menu_digit": None}
    )
    assert (status, changed["wrapup_seconds"], changed["menu_digit"]) == (200, 0, None)
    status, members = await _call(
        ada, token, "PUT", "/api/v1/queues/cardio-api/members", {"agents": [world.agent_id]}
    )
    assert (status, members["members"]["agents"]) == (200, [world.agent_id])
    status, read = await _call(ada, token, "GET", "/api/v1/queues/cardio-api/members")
    assert read == {"everyone": False, "agents": [world.agent_id], "skills": []}
    assert [a.detail["queue"] for a in await _audits(world, "queue")][-3:] == ["cardio-api"] * 3
    assert (await _audits(world, "user_skills"))[-1].detail == {"skills": ["cardiology"]}


async def test_bad_input_is_refused_naming_the_field(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    ada, token = await _client(world, aiohttp_client, "ada")
    cases = [
        ({"name": "Bad Name", "display_name": "x", "members": {"everyone": True}}, "name"),
        (
            {
                "name": "dup-key",
                "display_name": "x",
                "menu_digit": "0",
                "members": {"everyone": True},
            },
            "menu_digit",
        ),
        ({"name": "empty", "display_name": "Nobody"}, "members"),
        ({"name": "neg", "display_name": "x", "ring_timeout": -1}, "ring_timeout"),
        ({"name": "typo", "display_name": "x", "colour": "red"}, "colour"),
        ({"name": "m", "display_name": "x", "members": {"agents": ["ann"]}}, "members.agents"),
    ]
    for body, field in cases:
        status, refused = await _call(ada, token, "POST", "/api/v1/queues", body)
        assert (status, refused.get("field")) == (422, field), (body, refused)
    status, _ = await _call(ada, token, "PATCH", "/api/v1/queues/nowhere", {"active": False})
    assert status == 404


async def test_the_page_creates_and_edits_a_queue(world: ConsoleWorld, aiohttp_client: Any) -> None:
    ada, token = await _client(world, aiohttp_client, "ada")
    form = {
        CSRF_FIELD: token,
        "name": "walk-in",
        "display_name": "Walk-in desk",
        "strategy": "ringall",
        "ring_timeout": "20",
        "wrapup_seconds": "5",
        "max_wait_seconds": "0",
        "overflow": "hangup",
        "overflow_queue": "",
        "announce_frequency": "30",
        "announce_position": "on",
        "menu_digit": "",
        "active": "on",
    }
    refused = await ada.post("/admin/queues", data=form)
    assert refused.status == 422
    assert 'id="members-error"' in await refused.text()
    created = await ada.post("/admin/queues", data={**form, "everyone": "on"})
    assert created.status == 200
    assert "Queue walk-in created." in await created.text()
    saved = await ada.post(
        "/admin/queues/walk-in", data={**form, "everyone": "on", "ring_timeout": "x"}
    )
    assert saved.status == 422 and 'id="ring_timeout-error"' in await saved.text()
    saved = await ada.post("/admin/queues/walk-in", data={**form, "agents": str(world.agent_id)})
    assert saved.status == 200 and "Saved." in await saved.text()
    listing = await (await ada.get("/admin/queues")).text()
    assert 'data-queue="walk-in"' in listing and "alice" in listing


async def test_the_openapi_document_names_the_queue_paths(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    sam, token = await _client(world, aiohttp_client, "sam")
    status, document = await _call(sam, token, "GET", "/api/v1/openapi.json")
    assert status == 200
    assert {
        "/api/v1/queues",
        "/api/v1/queues/{name}",
        "/api/v1/queues/{name}/members",
        "/api/v1/skills",
        "/api/v1/skills/{user_id}",
    } <= set(document["paths"])
    assert {"get", "post"} <= set(document["paths"]["/api/v1/queues"])
    assert "CallQueue" in document["components"]["schemas"]


async def test_the_patient_card_edits_the_queue_priority_flags(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    alice, token = await _client(world, aiohttp_client, "alice")
    card = await (await alice.get(f"/patients/{world.grace.id}")).text()
    assert 'id="patient-priority"' in card and "/static/patient_priority.js" in card
    status, changed = await _call(
        alice,
        token,
        "PATCH",
        f"/api/v1/patients/{world.grace.id}",
        {"vip": True, "chronic_care": True},
    )
    assert (status, sorted(changed["changed"])) == (200, ["chronic_care", "vip"])
    async with world.server.database.session() as session:
        grace = await session.get(Patient, world.grace.id)
        assert grace is not None and (grace.vip, grace.chronic_care) == (True, True)
    card = await (await alice.get(f"/patients/{world.grace.id}")).text()
    assert "Chronic care</span>" in card
    await _call(
        alice,
        token,
        "PATCH",
        f"/api/v1/patients/{world.grace.id}",
        {"vip": False, "chronic_care": False},
    )
