"""The demo's campaigns on the seeded demo hospital (both engines): a reminder and a
post-discharge follow-up, made once, running and due at once; the supervisor's phone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callcenter.demo.campaigns import FOLLOW_UP_NAME, REMINDER_NAME, ensure_demo_campaigns
from callcenter.demo.run import SUPERVISOR, ensure_demo_users
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AuditEvent, CampaignAttempt, User
from hcrm_core.policy import BookingPolicy
from hcrm_core.seed import seed_demo
from hcrm_core.services.users import set_extension


async def test_demo_campaigns_run_at_once_and_are_made_once(database: Database) -> None:
    policy = BookingPolicy(timezone=ZoneInfo("America/New_York"))
    # 13:00 or 14:00 in New York: inside the calling hours.
    now = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0)
    await seed_demo(database, policy, patients=300, today=now.date())
    first = await ensure_demo_campaigns(database, policy, now)
    assert [c.name for c in first] == [REMINDER_NAME, FOLLOW_UP_NAME]
    assert all(c.status == "running" and c.scheduled > 0 for c in first), first
    async with database.session() as session:
        due = set(await session.scalars(select(CampaignAttempt.scheduled_for)))
    assert {d.replace(tzinfo=UTC) if d.tzinfo is None else d for d in due} == {now}
    again = await ensure_demo_campaigns(database, policy, now)
    assert [(c.id, c.scheduled) for c in again] == [(c.id, 0) for c in first]


async def test_the_supervisor_has_a_phone_even_in_an_older_demo_database(
    database: Database, tmp_path: Path
) -> None:
    logins = await ensure_demo_users(database, tmp_path)
    supervisor = next(x for x in logins if x.username == SUPERVISOR[0])
    assert supervisor.extension == SUPERVISOR[2]
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == SUPERVISOR[0]))
    assert user is not None
    await set_extension(database, user.id, None, Actor("test"))  # as made before this release
    logins = await ensure_demo_users(database, tmp_path)
    assert next(x for x in logins if x.username == SUPERVISOR[0]).extension == SUPERVISOR[2]
    async with database.session() as session:
        assert (await session.get(User, user.id)).extension == SUPERVISOR[2]  # type: ignore[union-attr]
        audited = await session.scalars(select(AuditEvent).where(AuditEvent.actor == "demo"))
        assert list(audited), "the extension given by the demo is audited"
