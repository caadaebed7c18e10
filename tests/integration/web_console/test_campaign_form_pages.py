"""The campaign form and the desk's register form: every bad field named at once, nothing lost,
nothing stored; on SQLite and PostgreSQL (issue 15 point 3, issue 19 point 7)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hcrm_core.db import Database
from hcrm_core.models import AuditEvent, Campaign, Patient
from tests.support.console import ConsoleWorld, csrf_from, login, start_console_world
from web_console.app import create_app

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_ERROR = re.compile(r'<p class="field-error" id="([^"]+)-error">([^<]*)</p>')


@pytest.fixture
async def engine_world(database: Database, tmp_path: Path) -> AsyncIterator[ConsoleWorld]:
    await database.dispose()
    world = await start_console_world(tmp_path / "data", database.url)
    yield world
    await world.server.stop()


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str) -> tuple[Any, str]:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    page = await (await client.get("/campaigns" if user != "alice" else "/desk")).text()
    return client, csrf_from(page) if user != "alice" else _META.search(page).group(1)  # type: ignore[union-attr]


def _errors(page: str) -> dict[str, str]:
    return {field: html.unescape(message) for field, message in _ERROR.findall(page)}


def _value(page: str, field_id: str) -> str | None:
    found = re.search(rf'id="{re.escape(field_id)}" name="[^"]*" value="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


async def _count(world: ConsoleWorld, model: Any) -> int:
    async with world.server.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _form(token: str, **fields: str) -> dict[str, str]:
    base = {
        "csrf_token": token,
        "name": "Asthma check",
        "kind": "adherence",
        "window.start": "09:00",
        "window.end": "17:00",
        "window.weekdays.0": "on",
        "max_concurrent": "3",
        "questions.0.key": "inhaler",
        "questions.0.kind": "choice",
        "questions.0.text.en": "Do you use your inhaler? Yes, press 1. No, press 2.",
        "questions.0.options.1": "yes",
        "questions.0.options.2": "no",
        "questions.0.escalate.2": "on",
    }
    return {**base, **fields}


async def _every_bad_field_is_named_and_the_form_kept(
    engine_world: ConsoleWorld, aiohttp_client: Any
) -> None:
    admin, token = await _client(engine_world, aiohttp_client, "ada")
    before = await _count(engine_world, AuditEvent)
    bad = _form(
        token,
        name=" ",
        **{
            "max_concurrent": "0",
            "calls_per_second": "fast",
            "window.end": "7pm",
            "retries.busy.retry_delay_minutes": "15",
            "retries.busy.max_attempts": "11",
            "questions.0.key": "Inhaler",
            "questions.0.options.2": "",
            "questions.0.options.9": "no",
            "targets.patient_mrns": "MRN-4242 NOBODY-1",
        },
    )
    response = await admin.post("/campaigns", data=bad)
    assert response.status == 422
    page = await response.text()
    assert _errors(page) == {
        "c-name": "give the campaign a name (up to 120 characters)",
        "c-max_concurrent": "must be at least 1",
        "c-calls_per_second": "enter a number, such as 1 or 0.5",
        "c-window-end": "must be a time like 08:30",
        "c-retries-busy-max_attempts": "must be at most 10",
        "c-questions-0-key": "use lower-case letters, digits and _ (starting with a letter)",
        "c-targets-patient_mrns": "no patient has the record number NOBODY-1",
    }
    assert 'id="form-errors"' in page and "7 fields need a change" in page
    # What was typed comes back as typed, the bad values too.
    assert _value(page, "c-calls_per_second") == "fast"
    assert _value(page, "c-window-end") == "7pm"
    assert _value(page, "c-questions-0-key") == "Inhaler"
    assert "Do you use your inhaler? Yes, press 1. No, press 2.</textarea>" in page
    assert "MRN-4242 NOBODY-1</textarea>" in page
    assert await _count(engine_world, Campaign) == 0
    assert await _count(engine_world, AuditEvent) == before

    # An answer that escalates on a value no key gives is named at the question's answers.
    response = await admin.post(
        "/campaigns",
        data=_form(token, **{"questions.0.options.1": "", "questions.0.options.2": ""}),
    )
    assert response.status == 422
    errors = _errors(await response.text())
    assert errors == {"c-questions-0": "a choice question needs options (key -> answer value)"}


async def _created_and_edited_with_fields(engine_world: ConsoleWorld, aiohttp_client: Any) -> None:
    admin, token = await _client(engine_world, aiohttp_client, "ada")
    created = await admin.post(
        "/campaigns",
        data=_form(token, **{"targets.patient_mrns": "mrn-4242", "max_abandon_rate": "2.5"}),
        allow_redirects=False,
    )
    assert created.status == 303
    location = created.headers["Location"]
    async with engine_world.server.database.session() as session:
        campaign = await session.scalar(select(Campaign))
    assert campaign is not None
    settings = campaign.settings
    assert settings["targets"]["patient_ids"] == [engine_world.grace.id]
    assert settings["window"]["weekdays"] == [0]
    assert settings["max_abandon_rate"] == 0.025
    assert settings["questions"][0]["escalate_on"] == ["no"]
    page = await (await admin.get(location)).text()
    assert _value(page, "c-max_abandon_rate") == "2.5"  # shown as it was typed, in %
    assert "MRN-4242</textarea>" in page

    # Editing: the question removed, a bad value in a second one refused at its field.
    edit = _form(
        token,
        **{
            "questions.0.remove": "on",
            "questions.1.key": "side_effects",
            "questions.1.text.en": "Any side effects? Yes 1, no 2.",
            "questions.1.options.1": "yes",
            "questions.1.options.2": "no",
            "questions.1.escalate.1": "on",
            "questions.2.key": "side_effects",
            "questions.2.kind": "nps",
            "questions.2.text.en": "From 0 to 10, how well do you sleep?",
            "questions.2.escalate_at_or_below": "eleven",
        },
    )
    refused = await admin.post(f"{location}/settings", data=edit)
    assert refused.status == 422
    assert _errors(await refused.text()) == {
        "c-questions-2-escalate_at_or_below": "must be a whole number"
    }
    edit["questions.2.escalate_at_or_below"] = "4"
    refused = await admin.post(f"{location}/settings", data=edit)
    assert refused.status == 422
    assert _errors(await refused.text()) == {"c-questions": "question keys must be unique"}
    edit["questions.2.remove"] = "on"
    saved = await admin.post(f"{location}/settings", data=edit, allow_redirects=False)
    assert saved.status == 303
    async with engine_world.server.database.session() as session:
        campaign = await session.get(Campaign, campaign.id)
    assert campaign is not None
    assert [q["key"] for q in campaign.settings["questions"]] == ["side_effects"]


async def _supervisors_send_no_settings_fields(
    engine_world: ConsoleWorld, aiohttp_client: Any
) -> None:
    supervisor, token = await _client(engine_world, aiohttp_client, "sam")
    page = await (await supervisor.get("/campaigns")).text()
    assert 'name="max_concurrent"' not in page and 'id="default-settings"' in page
    refused = await supervisor.post("/campaigns", data=_form(token))
    assert refused.status == 403
    assert "only admins" in await refused.text()
    # A supervisor's own form: a missing name is said at the field, the kind kept.
    nameless = await supervisor.post(
        "/campaigns", data={"csrf_token": token, "name": "", "kind": "adherence"}
    )
    assert nameless.status == 422
    page = await nameless.text()
    assert _errors(page) == {"c-name": "give the campaign a name (up to 120 characters)"}
    assert '<option value="adherence" selected>' in page
    assert await _count(engine_world, Campaign) == 0


async def _register_names_every_missing_field_at_once(
    engine_world: ConsoleWorld, aiohttp_client: Any
) -> None:
    agent, token = await _client(engine_world, aiohttp_client, "alice")
    headers = {"X-CSRF-Token": token}
    before = await _count(engine_world, Patient)
    response = await agent.post(
        "/api/v1/patients", json={"given_name": " ", "phone": "+12125550177"}, headers=headers
    )
    assert response.status == 422
    body = await response.json()
    assert body["fields"] == {
        "name": "enter a given or a family name",
        "date_of_birth": "is required",
    }
    assert body["field"] == "name"  # the first, for clients that read one
    response = await agent.post(
        "/api/v1/patients",
        json={"family_name": "Lovelace", "date_of_birth": "02/04/1961"},
        headers=headers,
    )
    assert response.status == 422
    body = await response.json()
    assert body["fields"] == {"date_of_birth": "must be a date like 1961-04-02"}
    assert await _count(engine_world, Patient) == before


async def test_forms_refuse_every_bad_field_at_once(
    engine_world: ConsoleWorld, aiohttp_client: Any
) -> None:
    """One server per engine (starting one is the slow part), four stories on it."""
    await _supervisors_send_no_settings_fields(engine_world, aiohttp_client)
    await _every_bad_field_is_named_and_the_form_kept(engine_world, aiohttp_client)
    await _created_and_edited_with_fields(engine_world, aiohttp_client)
    await _register_names_every_missing_field_at_once(engine_world, aiohttp_client)
