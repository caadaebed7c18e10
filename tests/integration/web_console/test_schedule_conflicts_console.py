"""The schedule conflicts page and API: roles, CSRF, field-naming errors, move and cancel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hcrm_core.models import AuditAction, AuditEvent, CampaignAttempt
from tests.support.console import ConsoleWorld, csrf_from, login
from tests.support.slot_clock import grace_on_leave
from web_console.app import create_app

PAGE = "/admin/schedule-conflicts"


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str) -> Any:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    return client


async def test_conflicts_listed_then_moved_and_cancelled(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    agent = await _client(world, aiohttp_client, "alice")
    assert (await agent.get(PAGE)).status == 403
    assert (await agent.get("/api/v1/schedule-conflicts")).status == 403

    supervisor = await _client(world, aiohttp_client, "sam")
    empty = await supervisor.get(PAGE)
    assert empty.status == 200 and 'id="no-conflicts"' in await empty.text()
    appointment = await grace_on_leave(world)

    page = await supervisor.get(PAGE)
    html = await page.text()
    assert f'data-appointment="{appointment.id}"' in html and "Grace Hopperton" in html
    assert "Doctor on leave or holiday" in html
    token = {"X-CSRF-Token": csrf_from(html)}
    listed = await (await supervisor.get("/api/v1/schedule-conflicts")).json()
    (conflict,) = listed["conflicts"]
    assert conflict["appointment_id"] == appointment.id and conflict["reason"] == "exception"

    move = f"/api/v1/appointments/{appointment.id}/move"
    assert (await supervisor.post(move, json={"scope": "doctor"})).status == 403  # no CSRF
    bad = await supervisor.post(move, json={"scope": "hospital"}, headers=token)
    assert bad.status == 422 and (await bad.json())["field"] == "scope"
    both = await supervisor.post(move, json={"scope": "doctor", "slot_id": 1}, headers=token)
    assert both.status == 422 and (await both.json())["field"] == "slot_id"
    moved = await supervisor.post(move, json={"scope": "doctor"}, headers=token)
    assert moved.status == 201, await moved.text()
    new = await moved.json()
    assert new["doctor"] and new["status"] == "booked"
    assert new["rescheduled_from_id"] == appointment.id and new["local"]
    assert (await (await supervisor.get("/api/v1/schedule-conflicts")).json())["conflicts"] == []
    again = await supervisor.post(move, json={"scope": "doctor"}, headers=token)
    assert again.status == 409

    cancel = f"/api/v1/appointments/{new['id']}/cancel-for-schedule"
    missing = await supervisor.post(cancel, json={}, headers=token)
    assert missing.status == 422 and (await missing.json())["field"] == "reason"
    done = await supervisor.post(cancel, json={"reason": "clinic closed"}, headers=token)
    assert done.status == 200
    assert (await done.json())["status"] == "cancelled"

    async with world.server.database.session() as session:
        calls = list(await session.scalars(select(CampaignAttempt.appointment_id)))
        views = await session.scalar(
            select(AuditEvent.id).where(
                AuditEvent.entity == "schedule_conflicts",
                AuditEvent.action == AuditAction.VIEW,
                AuditEvent.actor == "user:sam",
            )
        )
    # Grace has a phone and consents: a call in the appointment-changed campaign, still
    # waiting when she was cancelled, so the one call says so.
    assert calls == [new["id"]]
    assert views is not None


async def test_openapi_names_the_paths(world: ConsoleWorld, aiohttp_client: Any) -> None:
    client = await _client(world, aiohttp_client, "sam")
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert {
        "/api/v1/schedule-conflicts",
        "/api/v1/appointments/{appointment_id}/move",
        "/api/v1/appointments/{appointment_id}/cancel-for-schedule",
    } <= set(doc["paths"])
    assert "ScheduleConflict" in doc["components"]["schemas"]
