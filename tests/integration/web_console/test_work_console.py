"""/api/v1/tasks and /api/v1/complaints and their pages: roles, CSRF, refusals that name the
field, claim races over HTTP, assignment by a supervisor, the audit trail."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from hcrm_core.actors import Actor
from hcrm_core.models import AuditEvent
from hcrm_core.services.complaints import file_complaint
from tests.support.console import ConsoleWorld, csrf_from, login
from web_console.app import create_app


async def _client(
    world: ConsoleWorld, aiohttp_client: Any, user: str
) -> tuple[Any, dict[str, str]]:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    page = await client.get("/tasks")
    assert page.status == 200
    return client, {"X-CSRF-Token": csrf_from(await page.text())}


async def test_tasks_api_create_claim_assign_work(world: ConsoleWorld, aiohttp_client: Any) -> None:
    alice, a_token = await _client(world, aiohttp_client, "alice")
    bob, b_token = await _client(world, aiohttp_client, "agent1")
    sam, s_token = await _client(world, aiohttp_client, "sam")

    body = {"patient_id": world.grace.id, "reason": "Call about results", "queue": "general"}
    assert (await alice.post("/api/v1/tasks", json=body)).status == 403  # no CSRF
    for bad, field in (
        ({**body, "priority": 7}, "priority"),
        ({**body, "reason": ""}, "reason"),
        ({**body, "patient_id": 999999}, None),
        ({**body, "due_at": "tomorrow"}, "due_at"),
        ({**body, "colour": "red"}, "colour"),
    ):
        refused = await alice.post("/api/v1/tasks", json=bad, headers=a_token)
        assert 400 <= refused.status < 500, (bad, refused.status)
        if field:
            assert (await refused.json())["field"] == field
    made = await alice.post(
        "/api/v1/tasks", json={**body, "due_at": "2020-01-01T09:00"}, headers=a_token
    )
    assert made.status == 201, await made.text()
    task = await made.json()
    assert task["overdue"] is True and task["status"] == "open" and task["source_kind"] == "manual"
    bad_view = await alice.get("/api/v1/tasks?view=everything")
    assert bad_view.status == 422 and (await bad_view.json())["field"] == "view"
    assert (await alice.get("/api/v1/tasks?view=all")).status == 422
    queue = await (await alice.get("/api/v1/tasks?view=queue&queue=general")).json()
    assert [t["id"] for t in queue["tasks"]] == [task["id"]]

    claim = f"/api/v1/tasks/{task['id']}/claim"
    results = await asyncio.gather(
        alice.post(claim, json={}, headers=a_token), bob.post(claim, json={}, headers=b_token)
    )
    assert sorted(r.status for r in results) == [200, 409]
    winner, winner_token = (alice, a_token) if results[0].status == 200 else (bob, b_token)
    loser, loser_token = (bob, b_token) if winner is alice else (alice, a_token)
    patch = f"/api/v1/tasks/{task['id']}"
    forbidden = await loser.patch(patch, json={"notes": "mine?"}, headers=loser_token)
    assert forbidden.status == 403
    peek = await loser.get(patch)
    assert peek.status == 403 and (await peek.json())["error"] == "task_forbidden"
    not_yet = await winner.patch(patch, json={"status": "done"}, headers=winner_token)
    assert not_yet.status == 422 and (await not_yet.json())["field"] == "outcome"
    stale = await winner.patch(patch, json={"notes": "x", "version": 1}, headers=winner_token)
    assert stale.status == 409
    assign = f"/api/v1/tasks/{task['id']}/assign"
    assert (await winner.post(assign, json={"user_id": None}, headers=winner_token)).status == 403
    no_user = await sam.post(assign, json={"user_id": 987654}, headers=s_token)
    assert no_user.status == 422 and (await no_user.json())["field"] == "user_id"
    given = await sam.post(assign, json={"user_id": world.agent_id}, headers=s_token)
    assert given.status == 200 and (await given.json())["owner_user_id"] == world.agent_id
    assert (await alice.post(claim, json={}, headers=a_token)).status == 200
    done = await alice.patch(
        patch,
        json={"status": "done", "notes": "Rang at 10", "outcome": "Results explained"},
        headers=a_token,
    )
    assert done.status == 200 and (await done.json())["status"] == "done"
    counts = await (await sam.get("/api/v1/tasks/counts")).json()
    assert counts["overdue"] == 0

    async with world.server.database.session() as session:
        details = list(
            await session.scalars(
                select(AuditEvent.detail).where(
                    AuditEvent.entity == "task", AuditEvent.entity_id == str(task["id"])
                )
            )
        )
    assert any(d.get("assigned_to") == world.agent_id for d in details)
    assert any(d.get("outcome") == "Results explained" for d in details)


async def test_complaints_api_and_pages(world: ConsoleWorld, aiohttp_client: Any) -> None:
    complaint = await file_complaint(
        world.server.database,
        Actor.system(),
        patient_id=world.grace.id,
        category="billing",
        description="Charged twice",
        timezone=world.server.settings.tz,
    )
    alice, token = await _client(world, aiohttp_client, "alice")
    listed = await (await alice.get("/api/v1/complaints")).json()
    assert complaint.id in [c["id"] for c in listed["complaints"]]
    bad = await alice.get("/api/v1/complaints?view=recent")
    assert bad.status == 422 and (await bad.json())["field"] == "view"
    url = f"/api/v1/complaints/{complaint.id}"
    assert (await alice.get("/api/v1/complaints/99999")).status == 404
    for body, field in (
        ({"status": "closed"}, "status"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"owner_user_id": 424242}, "owner_user_id"),
        ({"mood": "angry"}, "mood"),
    ):
        refused = await alice.patch(url, json=body, headers=token)
        assert refused.status == 422 and (await refused.json())["field"] == field, body
    moved = await alice.patch(
        url, json={"status": "investigating", "severity": "high"}, headers=token
    )
    assert moved.status == 200
    detail = await moved.json()
    assert detail["status"] == "investigating" and detail["acknowledged_at"]
    contact = await alice.post(
        f"{url}/contacts", json={"channel": "phone", "summary": "Refund on its way"}, headers=token
    )
    assert contact.status == 201
    unknown_call = await alice.post(f"{url}/calls", json={"linkedid": "nope-1"}, headers=token)
    assert unknown_call.status == 422 and (await unknown_call.json())["field"] == "linkedid"
    page = await alice.get(f"/complaints/{complaint.id}")
    html = await page.text()
    assert page.status == 200 and "Refund on its way" in html and "Investigating" in html
    listing = await alice.get("/complaints")
    assert "Grace Hopperton" in await listing.text()
    assert (await alice.get("/complaints/abc")).status == 422
