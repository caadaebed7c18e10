"""Reports from the console: API figures, bad input naming the field, who sees what, CSV
exports (audited), the page with its SVG chart, the OpenAPI document."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hcrm_core.models import AgentStateChange, AuditAction, AuditEvent, Call, CallDirection
from tests.support.console import ConsoleWorld, login
from tests.support.factories import utc
from web_console.app import create_app

DAY = "from=2026-11-01&to=2026-11-01"


@pytest.fixture(scope="module")
async def seeded(world: ConsoleWorld) -> ConsoleWorld:
    start = utc(2026, 11, 1, 14, 0)
    async with world.server.database.transaction() as session:
        session.add_all(
            [
                Call(
                    linkedid="web-1",
                    direction=CallDirection.INBOUND,
                    started_at=start,
                    queue="general",
                    queued_at=start,
                    queue_wait_seconds=8,
                    agent_interface="PJSIP/7001",
                    agent_user_id=world.agent_id,
                    answered_at=start + timedelta(seconds=8),
                    ended_at=start + timedelta(seconds=98),
                ),
                Call(
                    linkedid="web-2",
                    direction=CallDirection.INBOUND,
                    started_at=start,
                    queue="general",
                    queued_at=start,
                    queue_wait_seconds=40,
                    abandoned=True,
                    ended_at=start + timedelta(seconds=40),
                ),
                AgentStateChange(
                    user_id=world.agent_id,
                    username="alice",
                    extension="7001",
                    state="ready",
                    pause_reason="",
                    at=start,
                ),
                AgentStateChange(
                    user_id=world.agent_id,
                    username="alice",
                    extension="7001",
                    state="paused",
                    pause_reason="=cmd|x",
                    at=start + timedelta(minutes=30),
                ),
                AgentStateChange(
                    user_id=world.agent_id,
                    username="alice",
                    extension="7001",
                    state="signed_out",
                    pause_reason="",
                    at=start + timedelta(minutes=40),
                ),
            ]
        )
    return world


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str) -> Any:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    return client


async def _exports(world: ConsoleWorld) -> list[AuditEvent]:
    async with world.server.database.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "report", AuditEvent.action == AuditAction.EXPORT
            )
        )
        return list(rows)


async def test_queue_and_agent_figures_over_the_api(seeded: ConsoleWorld, aiohttp_client):
    sam = await _client(seeded, aiohttp_client, "sam")
    answer = await sam.get(f"/api/v1/reports/queues?{DAY}&by=hour&queue=general")
    assert answer.status == 200
    body = await answer.json()
    assert body["period"] == {
        "from": "2026-11-01",
        "to": "2026-11-01",
        "by": "hour",
        "timezone": "America/New_York",
    }
    general = body["totals"]["general"]
    assert (general["offered"], general["answered"], general["abandoned"]) == (2, 1, 1)
    assert general["service_level_percent"] == 50.0 and general["asa_seconds"] == 8.0
    assert general["handle_time_average_seconds"] == 90.0
    assert len(body["rows"]) == 25 + 1  # the 25-hour day, then the total
    agents = await (await sam.get(f"/api/v1/reports/agents?{DAY}&agent=alice")).json()
    alice = agents["totals"]["alice"]
    assert (alice["ready_seconds"], alice["paused_seconds"], alice["calls_handled"]) == (
        1800.0,
        600.0,
        1,
    )
    appointments = await (await sam.get(f"/api/v1/reports/appointments?{DAY}")).json()
    assert appointments["totals"]["booked"] == 0 and len(appointments["rows"]) == 2
    empty = await (await sam.get("/api/v1/reports/queues?from=2026-06-01&to=2026-06-01")).json()
    assert empty["totals"]["general"]["offered"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-11-02&to=2026-11-01", "from"),
        ("from=2026-01-01&to=2026-11-01&by=15min", "to"),
        ("from=2026-11-01&to=2026-11-01&by=year", "by"),
        ("from=2026-11-01", "to"),
        (f"{DAY}&queue=nowhere", "queue"),
        (f"{DAY}&sl_seconds=0", "sl_seconds"),
        (f"{DAY}&format=xml", "format"),
        (f"{DAY}&colour=red", "colour"),
    ],
)
async def test_bad_queue_report_input_names_the_field(
    seeded: ConsoleWorld, aiohttp_client, query, field
):
    sam = await _client(seeded, aiohttp_client, "sam")
    answer = await sam.get(f"/api/v1/reports/queues?{query}")
    assert answer.status == 422
    assert (await answer.json())["field"] == field


async def test_agents_see_their_own_figures_only(seeded: ConsoleWorld, aiohttp_client):
    sam = await _client(seeded, aiohttp_client, "sam")
    unknown = await sam.get(f"/api/v1/reports/agents?{DAY}&agent=nobody")
    assert unknown.status == 422 and (await unknown.json())["field"] == "agent"
    alice = await _client(seeded, aiohttp_client, "alice")
    assert (await alice.get(f"/api/v1/reports/queues?{DAY}")).status == 403
    assert (await alice.get(f"/reports/queues.csv?{DAY}")).status == 403
    assert (await alice.get(f"/api/v1/reports/agents?{DAY}&agent=agent1")).status == 403
    own = await (await alice.get(f"/api/v1/reports/agents?{DAY}")).json()
    assert list(own["totals"]) == ["alice"]
    page = await alice.get(f"/reports?{DAY}")
    html = await page.text()
    assert page.status == 200 and 'id="agent-totals"' in html
    assert 'id="queue-report"' not in html and 'data-agent="agent1"' not in html


async def test_csv_exports_are_audited(seeded: ConsoleWorld, aiohttp_client):
    before = len(await _exports(seeded))
    sam = await _client(seeded, aiohttp_client, "sam")
    answer = await sam.get(f"/reports/queues.csv?{DAY}&by=day")
    assert answer.status == 200 and answer.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(await answer.text())))
    assert rows[0][:4] == ["Start", "Period", "Queue", "Offered"]
    assert ["2026-11-01T00:00:00-04:00", "2026-11-01", "general", "2"] in [r[:4] for r in rows]
    alice = await _client(seeded, aiohttp_client, "alice")
    mine = await alice.get(f"/api/v1/reports/agents?{DAY}&format=csv")
    text = await mine.text()
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    # A pause reason typed like a formula never starts a cell a spreadsheet would run.
    assert "Paused: =cmd|x (s)" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@")]
    assert (await alice.get(f"/api/v1/reports/appointments?{DAY}")).status == 403
    assert (await alice.get(f"/reports/appointments.csv?{DAY}")).status == 403
    booked = await sam.get(f"/reports/appointments.csv?{DAY}")
    assert booked.status == 200 and (await booked.text()).startswith("Start,Period,Booked")
    exports = await _exports(seeded)
    assert len(exports) == before + 3
    assert {e.entity_id for e in exports[-3:]} == {"queues", "agents", "appointments"}
    assert exports[-1].detail["from"] == "2026-11-01"


async def test_the_page_draws_its_chart_and_keeps_bad_input_on_the_page(
    seeded: ConsoleWorld, aiohttp_client
):
    sam = await _client(seeded, aiohttp_client, "sam")
    page = await sam.get(f"/reports?{DAY}&by=hour")
    html = await page.text()
    assert page.status == 200
    # Queues and agents drawn; no booking that day: a sentence, not an empty chart.
    assert html.count("<svg") == 2 and 'data-queue="general"' in html
    assert 'id="appointment-totals"' in html and 'id="no-bookings"' in html
    assert "01:00 EST" in html and "01:00 EDT" in html
    bad = await sam.get("/reports?from=2026-11-02&to=2026-11-01")
    assert bad.status == 422 and "must not be after" in await bad.text()
    document = await (await sam.get("/api/v1/openapi.json")).json()
    assert {
        "/api/v1/reports/queues",
        "/api/v1/reports/agents",
        "/api/v1/reports/appointments",
    } <= set(document["paths"])


TOKEN = "tv-token-0123456789abcdefghij"


async def test_the_wallboard_for_supervisors_and_a_tv_token(seeded: ConsoleWorld, aiohttp_client):
    import dataclasses
    from datetime import UTC, datetime

    from pydantic import SecretStr

    from hcrm_core.models import FollowUpStatus, FollowUpTask

    now = datetime.now(UTC)
    async with seeded.server.database.transaction() as session:
        session.add_all(
            [
                FollowUpTask(
                    patient_id=seeded.grace.id, reason="late", due_at=now - timedelta(hours=2)
                ),
                FollowUpTask(
                    patient_id=seeded.grace.id,
                    reason="soon",
                    due_at=now + timedelta(hours=2),
                    status=FollowUpStatus.IN_PROGRESS,
                ),
                FollowUpTask(
                    patient_id=seeded.grace.id,
                    reason="done",
                    due_at=now - timedelta(hours=2),
                    status=FollowUpStatus.DONE,
                ),
            ]
        )
    sam = await _client(seeded, aiohttp_client, "sam")
    data = await (await sam.get("/wallboard/data")).json()
    assert data["tasks"] == {"open": 2, "overdue": 1}
    assert {a["state"] for a in data["agents"]} >= {"ready", "on_call", "paused"}
    assert data["waiting"] == 0 and data["longest_wait_seconds"] == 0
    page = await sam.get("/wallboard")
    assert page.status == 200 and 'id="wb-waiting"' in await page.text()
    alice = await _client(seeded, aiohttp_client, "alice")
    assert (await alice.get("/wallboard/data")).status == 403
    deps = seeded.server.console_deps()
    web_settings = deps.settings.web.model_copy(update={"wallboard_token": SecretStr(TOKEN)})
    deps = dataclasses.replace(
        deps, settings=deps.settings.model_copy(update={"web": web_settings})
    )
    tv = await aiohttp_client(create_app(deps))
    assert (await tv.get("/wallboard", allow_redirects=False)).status == 302  # to the login
    assert (await tv.get("/wallboard/data?token=wrong")).status == 403
    answer = await tv.get(f"/wallboard/data?token={TOKEN}")
    assert answer.status == 200 and (await answer.json())["tasks"]["overdue"] == 1
    assert (await tv.get(f"/wallboard?token={TOKEN}")).status == 200
