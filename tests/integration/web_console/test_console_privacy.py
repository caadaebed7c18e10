"""Export and erasure over /api/v1: admins only, CSRF on the erase, audited, 409 on hold."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from hcrm_core.models import AuditAction, AuditEvent, Department, Patient
from tests.support.console import ConsoleWorld, login
from tests.support.privacy import E164, History, hold, make_history
from web_console.app import create_app
from web_console.openapi import openapi_document

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def _client(aiohttp_client: Any, world: ConsoleWorld, user: str) -> tuple[Any, str]:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    match = _META.search(await (await client.get("/")).text())
    assert match
    return client, match.group(1)


async def _history(world: ConsoleWorld, name: str) -> History:
    async with world.server.database.session() as session:
        cardiology = await session.scalar(select(Department.id).where(Department.code == "CARD"))
    assert cardiology is not None
    policy = world.server.settings.booking_policy()
    return await make_history(world.server.database, policy, cardiology, given_name=name)


async def _last_audit(world: ConsoleWorld, patient_id: int) -> AuditEvent:
    async with world.server.database.session() as session:
        row = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    assert row is not None
    return row


async def test_only_admins_export_and_erase(world, aiohttp_client):
    patient_id = world.grace.id
    for user in ("alice", "sam"):
        client, token = await _client(aiohttp_client, world, user)
        assert (await client.get(f"/api/v1/patients/{patient_id}/export")).status == 403
        erase = await client.post(
            f"/api/v1/patients/{patient_id}/erase",
            json={"confirm": True},
            headers={"X-CSRF-Token": token},
        )
        assert erase.status == 403
    anonymous = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await anonymous.get(f"/api/v1/patients/{patient_id}/export")).status == 401


async def test_admin_exports_a_patient_with_transcripts_decrypted(world, aiohttp_client):
    history = await _history(world, "Ottilie")
    client, _token = await _client(aiohttp_client, world, "ada")

    response = await client.get(f"/api/v1/patients/{history.patient_id}/export")

    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    bundle = await response.json()
    assert bundle["patient"]["given_name"] == "Ottilie"
    assert bundle["format"] == "hcrm-patient-export/1"
    row = await _last_audit(world, history.patient_id)
    assert (row.action, row.actor, row.entity) == (AuditAction.EXPORT, "user:ada", "patient")
    missing = await client.get("/api/v1/patients/99999999/export")
    assert missing.status == 404
    bad = await client.get("/api/v1/patients/abc/export")
    assert bad.status == 422 and (await bad.json())["field"] == "patient_id"


async def test_erase_needs_csrf_and_confirmation_and_respects_a_hold(world, aiohttp_client):
    history = await _history(world, "Perpetua")
    client, token = await _client(aiohttp_client, world, "ada")
    url = f"/api/v1/patients/{history.patient_id}/erase"

    no_csrf = await client.post(url, json={"confirm": True})
    assert no_csrf.status == 403
    unconfirmed = await client.post(url, json={}, headers={"X-CSRF-Token": token})
    assert unconfirmed.status == 422 and (await unconfirmed.json())["field"] == "confirm"

    await hold(world.server.database, history.recording_id)
    held = await client.post(url, json={"confirm": True}, headers={"X-CSRF-Token": token})
    assert held.status == 409
    refusal = await held.json()
    assert (refusal["error"], refusal["recording_ids"]) == ("legal_hold", [history.recording_id])
    async with world.server.database.session() as session:
        patient = await session.get(Patient, history.patient_id)
        assert patient is not None and patient.given_name == "Perpetua"


async def test_admin_erases_a_patient(world, aiohttp_client):
    history = await _history(world, "Quintina")
    client, token = await _client(aiohttp_client, world, "ada")

    erased = await client.post(
        f"/api/v1/patients/{history.patient_id}/erase",
        json={"confirm": True},
        headers={"X-CSRF-Token": token},
    )

    assert erased.status == 200, await erased.text()
    assert (await erased.json())["erased"]["transcripts"] == 1
    async with world.server.database.session() as session:
        patient = await session.get(Patient, history.patient_id)
        assert patient is not None and patient.family_name == "[erased]"
    row = await _last_audit(world, history.patient_id)
    assert (row.action, row.actor, row.detail["erasure"]) == (
        AuditAction.DELETE,
        "user:ada",
        "done",
    )
    assert "Quintina" not in str(row.detail) and E164 not in str(row.detail)


def test_the_openapi_document_lists_export_and_erase():
    paths = openapi_document()["paths"]
    assert paths["/api/v1/patients/{patient_id}/export"]["get"]["x-roles"] == ["admin"]
    assert "409" in paths["/api/v1/patients/{patient_id}/erase"]["post"]["responses"]
