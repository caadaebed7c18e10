"""The IVR, campaign, complaint and task reports from the console: API figures, bad input
naming the field, who sees what, audited CSV exports, the pages with their SVG charts, the
OpenAPI document."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from hcrm_core.models import AuditAction, AuditEvent, User
from tests.support.console import ConsoleWorld, login
from tests.support.report_more_data import DAY, MoreSeeded, seed_more_reports
from web_console.app import create_app

ONE_DAY = f"from={DAY}&to={DAY}"
KINDS = ["ivr", "ivr-steps", "campaigns", "complaints", "complaint-categories"]


@pytest.fixture(scope="module")
async def seeded(world: ConsoleWorld) -> tuple[ConsoleWorld, MoreSeeded]:
    database = world.server.database
    async with database.session() as session:
        bob = await session.scalar(select(User.id).where(User.username == "agent1"))
    assert bob is not None
    more = await seed_more_reports(
        database,
        world.server.settings.booking_policy(),
        alice=world.agent_id,
        bob=bob,
        with_appointments=False,
    )
    return world, more


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str) -> Any:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    return client


async def _exports(world: ConsoleWorld) -> list[AuditEvent]:
    async with world.server.database.session() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "report", AuditEvent.action == AuditAction.EXPORT)
            .order_by(AuditEvent.id)
        )
        return list(rows)


async def test_figures_over_the_api(seeded, aiohttp_client):
    world, more = seeded
    sam = await _client(world, aiohttp_client, "sam")
    ivr = await (await sam.get(f"/api/v1/reports/ivr?{ONE_DAY}&by=hour")).json()
    assert ivr["period"]["timezone"] == "America/New_York"
    total = ivr["totals"]
    assert (total["entered"], total["contained"], total["hung_up"], total["ongoing"]) == (
        8,
        2,
        4,
        1,
    )
    assert len(ivr["rows"]) == 24 + 1  # 24 hours, then the total
    steps = await (await sam.get(f"/api/v1/reports/ivr-steps?{ONE_DAY}")).json()
    assert steps["totals"]["main-menu"] == {"hung_up": 2, "contained": 0}
    campaigns = await (
        await sam.get(f"/api/v1/reports/campaigns?{ONE_DAY}&campaign={more.discharge_id}")
    ).json()
    discharge = campaigns["totals"][str(more.discharge_id)]
    assert (discharge["dialled"], discharge["opted_out"], discharge["escalated"]) == (6, 1, 1)
    attempt_rows = [r for r in campaigns["rows"] if r["attempt"] != ""]
    assert [(r["attempt"], r["dialled"]) for r in attempt_rows] == [(1, 3), (2, 2), (3, 1)]
    complaints = await (await sam.get(f"/api/v1/reports/complaints?{ONE_DAY}")).json()
    # The day is long over: its complaints as they were at its end (none answered yet).
    complaint_totals = complaints["totals"]
    assert (complaint_totals["received"], complaint_totals["open"]) == (4, 4)
    assert complaint_totals["closed"] == 0
    # The campaigns' two tasks (an escalation, a patient not reached) are tasks of the day too.
    tasks = await (await sam.get(f"/api/v1/reports/tasks?{ONE_DAY}")).json()
    assert (tasks["totals"]["created"], tasks["totals"]["source_survey"]) == (9, 2)
    owners = await (await sam.get(f"/api/v1/reports/task-owners?{ONE_DAY}")).json()
    assert owners["totals"]["alice"]["created"] == 3
    empty = await (await sam.get("/api/v1/reports/ivr?from=2026-06-01&to=2026-06-01")).json()
    assert empty["totals"]["entered"] == 0 and empty["totals"]["contained_percent"] is None


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"ivr?from={DAY}&to=2026-11-01", "from"),
        ("complaints?from=2026-01-01&to=2026-11-01&by=hour", "to"),
        (f"tasks?{ONE_DAY}&by=year", "by"),
        (f"campaigns?{ONE_DAY}&campaign=999999", "campaign"),
        (f"campaigns?{ONE_DAY}&campaign=x", "campaign"),
        (f"task-owners?{ONE_DAY}&owner=nobody", "owner"),
        (f"ivr-steps?{ONE_DAY}&queue=general", "queue"),
        (f"complaint-categories?{ONE_DAY}&format=xml", "format"),
    ],
)
async def test_bad_input_names_the_field(seeded, aiohttp_client, path, field):
    sam = await _client(seeded[0], aiohttp_client, "sam")
    answer = await sam.get(f"/api/v1/reports/{path}")
    assert answer.status == 422
    assert (await answer.json())["field"] == field


async def test_agents_see_their_own_tasks_only(seeded, aiohttp_client):
    world, _ = seeded
    alice = await _client(world, aiohttp_client, "alice")
    for kind in KINDS:
        assert (await alice.get(f"/api/v1/reports/{kind}?{ONE_DAY}")).status == 403
        assert (await alice.get(f"/reports/{kind}.csv?{ONE_DAY}")).status == 403
    assert (await alice.get(f"/reports/ivr?{ONE_DAY}")).status == 403
    assert (await alice.get(f"/reports/campaigns?{ONE_DAY}")).status == 403
    assert (await alice.get(f"/api/v1/reports/tasks?{ONE_DAY}&owner=agent1")).status == 403
    own = await (await alice.get(f"/api/v1/reports/task-owners?{ONE_DAY}")).json()
    assert list(own["totals"]) == ["alice"]
    mine = own["totals"]["alice"]  # at the day's end: one done, one open, one cancelled
    assert (mine["created"], mine["done"], mine["open"], mine["cancelled"]) == (3, 1, 1, 1)
    page = await alice.get(f"/reports/followups?{ONE_DAY}")
    html = await page.text()
    assert page.status == 200 and 'id="task-totals"' in html and "My tasks" in html
    assert 'id="complaint-report"' not in html and 'data-name="agent1"' not in html
    assert 'href="/reports/ivr' not in html  # the menu shows an agent only their pages


async def test_every_table_exports_as_csv_and_is_audited(seeded, aiohttp_client):
    world, _ = seeded
    before = len(await _exports(world))
    sam = await _client(world, aiohttp_client, "sam")
    for kind in [*KINDS, "tasks", "task-owners"]:
        answer = await sam.get(f"/reports/{kind}.csv?{ONE_DAY}")
        assert answer.status == 200 and answer.content_type == "text/csv", kind
    steps = await (await sam.get(f"/api/v1/reports/ivr-steps?{ONE_DAY}&format=csv")).text()
    rows = list(csv.reader(io.StringIO(steps)))
    assert rows[0] == ["Start", "Period", "Menu step", "Hung up here", "Finished here (no agent)"]
    assert ["", "Total", "main-menu", "2", "0"] in rows
    alice = await _client(world, aiohttp_client, "alice")
    mine = await alice.get(f"/reports/task-owners.csv?{ONE_DAY}")
    assert [r[0] for r in csv.reader(io.StringIO(await mine.text()))] == ["Owner", "alice"]
    exports = await _exports(world)
    assert len(exports) == before + 9
    assert [e.entity_id for e in exports[-9:-2]] == [*KINDS, "tasks", "task-owners"]
    assert exports[-1].detail["names"] == ["alice"] and exports[-1].actor == "user:alice"
    assert exports[-2].detail["from"] == DAY and exports[-2].entity_id == "ivr-steps"


async def test_the_pages_draw_their_charts(seeded, aiohttp_client):
    world, _ = seeded
    sam = await _client(world, aiohttp_client, "sam")
    ivr = await (await sam.get(f"/reports/ivr?{ONE_DAY}&by=hour")).text()
    assert ivr.count("<svg") == 2 and 'data-step="main-menu"' in ivr
    assert 'aria-current="page"' in ivr and 'href="/reports/ivr.csv?from=' in ivr
    campaigns = await (await sam.get(f"/reports/campaigns?{ONE_DAY}")).text()
    assert campaigns.count("<svg") == 1 and "Discharge calls" in campaigns
    followups = await (await sam.get(f"/reports/followups?{ONE_DAY}")).text()
    assert followups.count("<svg") == 2 and 'data-name="billing"' in followups
    empty = await (await sam.get("/reports/ivr?from=2026-06-01&to=2026-06-01")).text()
    assert "<svg" not in empty and 'id="no-ivr-calls"' in empty
    bad = await sam.get("/reports/followups?from=2026-11-04&to=2026-11-03")
    assert bad.status == 422 and "must not be after" in await bad.text()
    document = await (await sam.get("/api/v1/openapi.json")).json()
    assert {f"/api/v1/reports/{kind}" for kind in [*KINDS, "tasks", "task-owners"]} <= set(
        document["paths"]
    )
