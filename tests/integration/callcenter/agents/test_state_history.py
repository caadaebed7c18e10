"""The agent state history: the desk's state changes, stored in batches off the bus."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from callcenter.agents.history import AgentHistoryWriter
from callcenter.agents.notifier import AgentStateChanged
from callcenter.bus import EventBus
from hcrm_core.models import AgentStateChange, Role, User


def _change(user_id: int | None, state: str, since: float, reason: str = "") -> AgentStateChanged:
    agent = {"state": state, "pause_reason": reason, "extension": "1001", "since": since}
    return AgentStateChanged("alice", agent, user_id=user_id)


async def _stored(database) -> list[tuple[str, str, float]]:
    async with database.session() as session:
        rows = await session.scalars(select(AgentStateChange).order_by(AgentStateChange.id))
        return [(r.state, r.pause_reason, r.at.timestamp()) for r in rows]


async def test_changes_are_stored_once_with_their_time(database):
    async with database.transaction() as session:
        user = User(username="alice", display_name="Alice", role=Role.AGENT, password_hash="x")
        session.add(user)
    bus = EventBus()
    writer = AgentHistoryWriter(bus, database, flush_interval=0.05)
    await writer.start()
    try:
        t0 = 1_790_000_000.0
        bus.publish(_change(user.id, "ready", t0))
        bus.publish(_change(user.id, "ready", t0))  # a queue or device change: not a state
        bus.publish(_change(user.id, "paused", t0 + 60, "lunch"))
        before = time.time()
        bus.publish(_change(user.id, "paused", t0 + 60, "training"))  # same state, new reason
        bus.publish(_change(None, "ready", t0))  # a status without a user is not history
        bus.publish(_change(user.id + 1000, "ready", t0))  # nor one of an unknown user
        bus.publish(_change(user.id, "signed_out", t0 + 120))
        async with asyncio.timeout(5):
            await bus.join()  # every change handed to the writer
        await writer.flush()
        rows = await _stored(database)
    finally:
        await writer.stop()
        await bus.close()
    assert [(s, r) for s, r, _ in rows] == [
        ("ready", ""),
        ("paused", "lunch"),
        ("paused", "training"),
        ("signed_out", ""),
    ]
    assert [at for _, _, at in rows[:2]] == [t0, t0 + 60]
    assert rows[2][2] >= before - 1  # the new reason began when it was seen
    assert rows[3][2] == t0 + 120
