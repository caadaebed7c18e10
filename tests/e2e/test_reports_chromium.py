"""The report pages and the wallboard in a real headless Chromium.

The real server (start_server, no Asterisk) with a week of seeded calls and agent states:
a supervisor picks a period on /reports and sees the chart and the figures; the wallboard on
a TV token follows a caller joining a queue (published on the bus as the call tracker would)
without a reload. ``CALLCENTER_SHOTS_DIR`` set: screenshots at 1400 and 1024 px are kept.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import time as time_now

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from callcenter.ami.events import AmiEvent, Headers
from hcrm_core.models import (
    AgentStateChange,
    Appointment,
    AppointmentStatus,
    Call,
    CallDirection,
    Channel,
    FollowUpTask,
    Slot,
)
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium  # noqa: F401
from tests.support.browser import log_in, screenshots, serve_console
from tests.support.console import ConsoleWorld, start_console_world
from web_console.app import create_app

TOKEN = "wallboard-tv-token-abcdefghijklmnop"
QUEUE = "appointments"


async def seed_week(world: ConsoleWorld, last_day: date) -> None:
    """Seven days of calls (two queues, 8:00 to 17:00) and a shift for four agents each day."""
    tz = world.server.settings.tz
    rows: list[object] = []
    agents = [("alice", world.agent_id)]
    for n in range(1, 4):
        agents.append((f"agent{n}", world.agent_id + 2 + n))  # created right after alice, sam, ada
    for offset in range(7):
        day = last_day - timedelta(days=6 - offset)
        for hour in range(8, 17):
            for k in range((hour * 7 + offset * 3) % 9 + 2):
                queued = datetime.combine(day, time(hour, (k * 11) % 60), tz).astimezone(UTC)
                wait = float((k * 13 + hour) % 70)
                answered = k % 5 != 0
                agent_id = agents[k % len(agents)][1]
                rows.append(
                    Call(
                        linkedid=f"e2e-{day}-{hour}-{k}",
                        direction=CallDirection.INBOUND,
                        started_at=queued,
                        queue=QUEUE if k % 3 else "general",
                        queued_at=queued,
                        queue_wait_seconds=wait,
                        abandoned=not answered,
                        agent_interface=f"PJSIP/70{k % 4}" if answered else None,
                        agent_user_id=agent_id if answered else None,
                        answered_at=queued + timedelta(seconds=wait) if answered else None,
                        ended_at=queued + timedelta(seconds=wait + (180 if answered else 0)),
                    )
                )
        for index, (username, user_id) in enumerate(agents):
            start = datetime.combine(day, time(8, 0), tz).astimezone(UTC)
            for minutes, state, reason in (
                (0, "ready", ""),
                (150 + index * 10, "paused", "break"),
                (165 + index * 10, "ready", ""),
                (240, "paused", "lunch"),
                (300, "on_call", ""),
                (310, "wrap_up", ""),
                (312, "ready", ""),
                (480 + index * 15, "signed_out", ""),
            ):
                rows.append(
                    AgentStateChange(
                        user_id=user_id,
                        username=username,
                        extension="",
                        state=state,
                        pause_reason=reason,
                        at=start + timedelta(minutes=minutes),
                    )
                )
    rows.extend(await _appointments(world, last_day))
    rows.append(
        FollowUpTask(
            patient_id=world.grace.id,
            reason="call back",
            due_at=datetime.now(UTC) - timedelta(hours=1),
        )
    )
    async with world.server.database.transaction() as session:
        session.add_all(rows)


async def _appointments(world: ConsoleWorld, last_day: date) -> list[object]:
    """Past appointments booked through the week by every channel: kept, missed, cancelled."""
    tz = world.server.settings.tz
    async with world.server.database.session() as session:
        slots = (await session.scalars(select(Slot).limit(60))).all()
    channels = list(Channel)
    statuses = [AppointmentStatus.COMPLETED] * 3 + [
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.CANCELLED,
    ]
    rows: list[object] = []
    for n, slot in enumerate(slots):
        day = last_day - timedelta(days=n % 7)
        booked = datetime.combine(day, time(9 + n % 8, 5), tz).astimezone(UTC)
        status = statuses[n % len(statuses)]
        rows.append(
            Appointment(
                patient_id=world.grace.id,
                doctor_id=slot.doctor_id,
                department_id=slot.department_id,
                slot_id=slot.id,
                starts_at=booked + timedelta(hours=2),
                ends_at=booked + timedelta(hours=2, minutes=30),
                local_date=day,
                status=status,
                channel=channels[n % (len(channels) - (n % 3 == 0))],
                confirmation_code=f"E2E{n:05d}",
                booked_at=booked,
                cancelled_at=booked + timedelta(hours=1)
                if status is AppointmentStatus.CANCELLED
                else None,
            )
        )
    return rows


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, ConsoleWorld]]:
    world = await start_console_world(tmp_path / "data")
    deps = world.server.console_deps()
    web_settings = deps.settings.web.model_copy(update={"wallboard_token": SecretStr(TOKEN)})
    settings = deps.settings.model_copy(update={"web": web_settings})
    app = create_app(dataclasses.replace(deps, settings=settings))
    try:
        async with serve_console(app) as base:
            yield base, world
    finally:
        await world.server.stop()


async def test_reports_page_and_live_wallboard(chromium, site) -> None:  # noqa: F811
    from playwright.async_api import async_playwright

    base, world = site
    today = datetime.now(world.server.settings.tz).date()
    last = today - timedelta(days=1)
    await seed_week(world, last)
    shots = os.environ.get("CALLCENTER_SHOTS_DIR")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            await log_in(page, base, "sam", "/reports")
            await page.fill("input[name=from]", (last - timedelta(days=6)).isoformat())
            await page.fill("input[name=to]", last.isoformat())
            await page.select_option("select[name=by]", "day")
            await page.click("#report-form button[type=submit]")
            await page.wait_for_selector("#queue-report svg.chart rect[fill='#2e7d32']")
            offered = await page.text_content(f'#queue-totals tr[data-queue="{QUEUE}"] .offered')
            assert offered is not None and int(offered) > 0
            booked = await page.text_content("#appointment-totals .booked")
            assert booked is not None and int(booked) > 0
            await page.wait_for_selector("#appointment-report svg.chart")
            signed_in = await page.text_content('#agent-totals tr[data-agent="alice"] .signed-in')
            assert signed_in is not None and signed_in.startswith("5")  # ~8 h a day x 7 days
            assert await page.get_attribute(".csv", "href") is not None
            await screenshots(page, shots, "reports-reports")

            await page.goto(f"{base}/reports?from={last}&to={last}&by=hour&queue={QUEUE}")
            await page.wait_for_selector("#queue-report svg.chart")

            tv = await browser.new_page(viewport={"width": 1400, "height": 900})
            tv.set_default_timeout(TIMEOUT_MS)
            await tv.goto(f"{base}/wallboard?token={TOKEN}")
            assert await tv.text_content("#wb-waiting") == "0"
            assert await tv.text_content("#wb-tasks-overdue") == "1"
            # A caller joins the queue, as the AMI bridge publishes it.
            joined = AmiEvent(
                "QueueCallerJoin",
                Headers([("Queue", QUEUE), ("Uniqueid", "wb1"), ("Linkedid", "wb1")]),
                received_at=time_now(),
            )
            world.server.bus.publish(joined)
            await tv.wait_for_selector('#wb-waiting:text-is("1")')
            await tv.wait_for_selector(
                f'#wb-queues tr[data-queue="{QUEUE}"] td.waiting:text-is("1")'
            )
            await screenshots(tv, shots, "reports-wallboard")
        finally:
            await browser.close()
