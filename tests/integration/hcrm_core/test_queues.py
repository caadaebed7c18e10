"""Queues kept as data: the defaults, validation naming the field, members, skills, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hcrm_core.actors import Actor
from hcrm_core.errors import DuplicateRecord, ValidationFailed
from hcrm_core.models import AuditEvent, Role
from hcrm_core.services import queues as svc
from hcrm_core.services.queues import Members, QueueSettings
from hcrm_core.services.users import create_user

ADMIN = Actor.user(1, "admin")


async def _agent(database, username: str) -> int:
    async with database.transaction() as session:
        user = await create_user(
            session, username=username, password="long enough pw", role=Role.AGENT
        )
    return user.id


async def _audits(database) -> int:
    async with database.session() as session:
        return await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity.in_(("queue", "user_skills")))
        )


async def test_the_two_queues_of_before_exist_with_their_settings(database):
    queues = await svc.list_queues(database)
    assert [(q.name, q.menu_digit, q.members.everyone, q.active) for q in queues] == [
        ("appointments", "0", True, True),
        ("enquiries", None, True, True),
    ]
    first = queues[0]
    assert (first.strategy, first.ring_timeout, first.wrapup_seconds) == ("rrmemory", 15, 10)
    assert (first.announce_position, first.announce_frequency, first.max_wait_seconds) == (
        True,
        60,
        0,
    )
    agent = await _agent(database, "ann")
    assert await svc.queues_for_user(database, agent) == ("appointments", "enquiries")


async def test_members_by_agent_and_by_skill(database):
    ann, bob = await _agent(database, "ann"), await _agent(database, "bob")
    assert await svc.set_user_skills(database, bob, ["Cardiology ", "billing"], ADMIN) == [
        "billing",
        "cardiology",
    ]
    await svc.create_queue(
        database,
        "cardio",
        QueueSettings(display_name="Cardiology nurses", menu_digit="3", strategy="ringall"),
        Members(agents=(ann,), skills=("cardiology",)),
        ADMIN,
    )
    await svc.create_queue(
        database,
        "billing",
        QueueSettings(display_name="Billing", active=False),
        Members(),
        ADMIN,
    )
    assert await svc.queues_for_user(database, ann) == ("appointments", "cardio", "enquiries")
    assert await svc.queues_for_user(database, bob) == ("appointments", "cardio", "enquiries")
    cardio = await svc.get_queue(database, "cardio")
    assert cardio.members == Members(False, (ann,), ("cardiology",))
    assert cardio.as_json()["members"] == {
        "everyone": False,
        "agents": [ann],
        "skills": ["cardiology"],
    }
    await svc.set_members(database, "appointments", Members(skills=("billing",)), ADMIN)
    assert await svc.queues_for_user(database, ann) == ("cardio", "enquiries")
    assert await svc.user_skills(database) == {bob: ["billing", "cardiology"]}
    assert await _audits(database) == 4


@pytest.mark.parametrize(
    ("name", "settings", "members", "field"),
    [
        ("Bad Name", QueueSettings(display_name="x"), Members(everyone=True), "name"),
        ("general", QueueSettings(display_name="x"), Members(everyone=True), "name"),
        ("q1", QueueSettings(display_name=""), Members(everyone=True), "display_name"),
        ("q1", QueueSettings(display_name="a;b"), Members(everyone=True), "display_name"),
        ("q1", QueueSettings(display_name="x", strategy="fastest"), Members(True), "strategy"),
        ("q1", QueueSettings(display_name="x", ring_timeout=0), Members(True), "ring_timeout"),
        ("q1", QueueSettings(display_name="x", menu_digit="0"), Members(True), "menu_digit"),
        ("q1", QueueSettings(display_name="x", menu_digit="1"), Members(True), "menu_digit"),
        ("q1", QueueSettings(display_name="x"), Members(), "members"),
        ("q1", QueueSettings(display_name="x"), Members(skills=("nope",)), "members.skills"),
        ("q1", QueueSettings(display_name="x"), Members(agents=(999,)), "members.agents"),
        (
            "q1",
            QueueSettings(display_name="x", overflow="queue", overflow_queue="nowhere"),
            Members(True),
            "overflow_queue",
        ),
        (
            "q1",
            QueueSettings(display_name="x", overflow="queue", overflow_queue="enquiries"),
            Members(True),
            "max_wait_seconds",
        ),
        ("q1", QueueSettings(display_name="x", overflow="voicemail"), Members(True), "overflow"),
    ],
)
async def test_bad_queues_are_refused_naming_the_field(database, name, settings, members, field):
    with pytest.raises(ValidationFailed) as refused:
        await svc.create_queue(database, name, settings, members, ADMIN)
    assert refused.value.field == field
    assert [q.name for q in await svc.list_queues(database)] == ["appointments", "enquiries"]
    assert await _audits(database) == 0


async def test_changes_are_checked_and_nothing_is_half_written(database):
    with pytest.raises(DuplicateRecord):
        await svc.create_queue(
            database, "enquiries", QueueSettings(display_name="x"), Members(True), ADMIN
        )
    await svc.create_queue(
        database, "spare", QueueSettings(display_name="Spare", active=False), Members(), ADMIN
    )
    with pytest.raises(ValidationFailed) as refused:
        await svc.update_queue(database, "spare", QueueSettings(active=True), ADMIN)
    assert refused.value.field == "members"
    with pytest.raises(ValidationFailed) as refused:
        await svc.set_members(database, "enquiries", Members(), ADMIN)
    assert refused.value.field == "members"
    with pytest.raises(ValidationFailed) as refused:
        await svc.update_queue(
            database, "spare", QueueSettings(menu_digit="0", ring_timeout=999), ADMIN
        )
    assert refused.value.field == "ring_timeout"
    spare = await svc.get_queue(database, "spare")
    assert (spare.active, spare.menu_digit, spare.ring_timeout) == (False, None, 15)
    # An inactive queue may keep a key an active one uses; it cannot be activated with it.
    await svc.set_members(database, "spare", Members(everyone=True), ADMIN)
    await svc.update_queue(database, "spare", QueueSettings(menu_digit="0"), ADMIN)
    with pytest.raises(ValidationFailed) as refused:
        await svc.update_queue(database, "spare", QueueSettings(active=True), ADMIN)
    assert refused.value.field == "menu_digit"
    changed = await svc.update_queue(
        database,
        "enquiries",
        QueueSettings(max_wait_seconds=120, overflow="queue", overflow_queue="appointments"),
        ADMIN,
    )
    assert (changed.max_wait_seconds, changed.overflow_queue) == (120, "appointments")
    with pytest.raises(svc.QueueNotFound):
        await svc.update_queue(database, "nowhere", QueueSettings(active=False), ADMIN)
