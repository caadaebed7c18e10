"""Campaign pages: roles, CSRF, field-naming errors, status changes, CSV export (audited)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from sqlalchemy import select

from hcrm_core.models import AuditAction, AuditEvent, CampaignAttempt
from tests.support.console import ConsoleWorld, csrf_from, login
from web_console.app import create_app


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str) -> Any:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    return client


async def _token(client: Any) -> str:
    return csrf_from(await (await client.get("/campaigns")).text())


@pytest.fixture
async def supervisor(world: ConsoleWorld, aiohttp_client: Any) -> Any:
    return await _client(world, aiohttp_client, "sam")


async def test_agents_cannot_see_campaigns(world: ConsoleWorld, aiohttp_client: Any) -> None:
    agent = await _client(world, aiohttp_client, "alice")
    assert (await agent.get("/campaigns")).status == 403
    assert (await agent.get("/campaigns/1/results.csv")).status == 403


async def test_create_start_stop_and_export(
    world: ConsoleWorld, supervisor: Any, aiohttp_client: Any
) -> None:
    token = await _token(supervisor)
    # Settings (targets here) are an admin's to give, at creation too.
    admin = await _client(world, aiohttp_client, "ada")
    settings = {"targets": {"patient_ids": [world.grace.id, world.script.id]}}
    created = await admin.post(
        "/campaigns",
        data={
            "name": "Satisfaction <b>Q4</b>",
            "kind": "survey",
            "settings": json.dumps(settings),
            "csrf_token": await _token(admin),
        },
        allow_redirects=False,
    )
    assert created.status == 303
    location = created.headers["Location"]
    campaign_id = int(location.rsplit("/", 1)[1])
    page = await (await supervisor.get(location)).text()
    assert "Satisfaction &lt;b&gt;Q4&lt;/b&gt;" in page and "<b>Q4" not in page
    # No CSRF token: refused, nothing started.
    refused = await supervisor.post(f"/campaigns/{campaign_id}/start", allow_redirects=False)
    assert refused.status == 403
    started = await supervisor.post(
        f"/campaigns/{campaign_id}/start", data={"csrf_token": token}, allow_redirects=False
    )
    assert started.status == 303
    progress = await (await supervisor.get(f"/campaigns/{campaign_id}/progress")).json()
    # The second patient has no phone number: not a target.
    assert (progress["status"], progress["scheduled"]) == ("running", 1)
    # A supervisor may not edit the questions: that is an admin's job.
    edit = await supervisor.post(
        f"/campaigns/{campaign_id}/settings", data={"settings": "{}", "csrf_token": token}
    )
    assert edit.status == 403
    stopped = await supervisor.post(
        f"/campaigns/{campaign_id}/stop", data={"csrf_token": token}, allow_redirects=False
    )
    assert stopped.status == 303
    export = await supervisor.get(f"/campaigns/{campaign_id}/results.csv")
    assert export.status == 200 and export.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await export.text())))
    assert [(r["status"], r["mrn"]) for r in rows] == [("cancelled", "MRN-4242")]
    assert "nps" in rows[0]
    async with world.server.database.session() as session:
        audit = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "campaign_results", AuditEvent.action == AuditAction.EXPORT
                )
            )
        ).all()
        attempts = (
            await session.scalars(
                select(CampaignAttempt).where(CampaignAttempt.campaign_id == campaign_id)
            )
        ).all()
    assert [a.entity_id for a in audit] == [str(campaign_id)]
    assert len(attempts) == 1


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"name": "", "kind": "survey"}, "name"),
        ({"name": "X", "kind": "robocall"}, "kind"),
        ({"name": "X", "kind": "survey", "settings": "{not json"}, "settings"),
        ({"name": "X", "kind": "survey", "settings": '{"window": {"end": "22:00"}}'}, "window"),
        ({"name": "X", "kind": "survey", "settings": '{"max_concurrent": -1}'}, "max_concurrent"),
    ],
)
async def test_bad_fields_are_named_never_500(
    world: ConsoleWorld, aiohttp_client: Any, fields: dict[str, str], named: str
) -> None:
    admin = await _client(world, aiohttp_client, "ada")  # settings are an admin's to give
    token = await _token(admin)
    response = await admin.post("/campaigns", data={**fields, "csrf_token": token})
    assert response.status == 422
    assert named in await response.text()


async def test_unknown_campaign_is_404(supervisor: Any) -> None:
    assert (await supervisor.get("/campaigns/999999")).status == 404
    assert (await supervisor.get("/campaigns/abc")).status == 404
    token = await _token(supervisor)
    bad = await supervisor.post("/campaigns/1/explode", data={"csrf_token": token})
    assert bad.status == 404


async def test_admin_edits_questions(world: ConsoleWorld, aiohttp_client: Any) -> None:
    admin = await _client(world, aiohttp_client, "ada")
    token = await _token(admin)
    created = await admin.post(
        "/campaigns",
        data={"name": "Meds", "kind": "adherence", "csrf_token": token},
        allow_redirects=False,
    )
    location = created.headers["Location"]
    question = {
        "key": "dizzy",
        "text": {"en": "Do you feel dizzy? Yes 1, no 2."},
        "options": {"1": "yes", "2": "no"},
        "escalate_on": ["yes"],
    }
    saved = await admin.post(
        f"{location}/settings",
        data={"settings": json.dumps({"questions": [question]}), "csrf_token": token},
        allow_redirects=False,
    )
    assert saved.status == 303
    page = await (await admin.get(location)).text()
    assert "dizzy" in page
    bad = await admin.post(
        f"{location}/settings",
        data={
            "settings": json.dumps({"questions": [{**question, "escalate_on": ["maybe"]}]}),
            "csrf_token": token,
        },
    )
    assert bad.status == 422


async def test_supervisors_create_only_with_the_default_settings(
    world: ConsoleWorld, supervisor: Any
) -> None:
    """Only admins change settings: not even by creating a new campaign with them."""
    token = await _token(supervisor)
    assert "textarea" not in await (await supervisor.get("/campaigns")).text()
    before = len(await world.server.outbound.campaigns.all())
    loud = {"max_concurrent": 50, "window": {"start": "00:00", "end": "23:59"}}
    refused = await supervisor.post(
        "/campaigns",
        data={"name": "Night", "kind": "survey", "settings": json.dumps(loud), "csrf_token": token},
        allow_redirects=False,
    )
    assert refused.status == 403
    text = await refused.text()
    assert "settings" in text and "only admins" in text
    assert len(await world.server.outbound.campaigns.all()) == before
    plain = await supervisor.post(
        "/campaigns",
        data={"name": "Plain", "kind": "survey", "settings": "  ", "csrf_token": token},
        allow_redirects=False,
    )
    assert plain.status == 303
    campaign_id = int(plain.headers["Location"].rsplit("/", 1)[1])
    created = await world.server.outbound.campaigns.get(campaign_id)
    assert created.settings.get("max_concurrent") != 50
    assert created.settings.get("window") != loud["window"]
    page = await (await supervisor.get(f"/campaigns/{campaign_id}")).text()
    assert 'textarea name="settings"' not in page


@pytest.mark.parametrize(
    ("settings", "status"),
    [
        ("[" * 50_000, 400),  # the JSON parser's recursion: a 500 before
        ('{"targets": {"condition_code": "E1\\u0000"}}', 400),  # a NUL: PostgreSQL refuses it
        ('{"targets": {"condition_code": "\\ud800"}}', 400),  # half a surrogate pair
    ],
)
async def test_unreadable_settings_are_400_naming_them(
    world: ConsoleWorld, aiohttp_client: Any, settings: str, status: int
) -> None:
    admin = await _client(world, aiohttp_client, "ada")
    token = await _token(admin)
    response = await admin.post(
        "/campaigns",
        data={"name": "X", "kind": "survey", "settings": settings, "csrf_token": token},
    )
    assert response.status == status
    assert "settings" in await response.text() or "targets" in await response.text()
