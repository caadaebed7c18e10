"""The agent state history kept whole across a change of leader, each change stored once.

Two history writers stand for two server processes on one database: both see every change
of the agent (the follower a few milliseconds later), the leader stores them. The leader dies
with its last batch unwritten, and a change comes in the second before the other process
leads: the new leader stores both, not what the old one stored. Then the old leader, which
was only frozen, wakes up and writes its last batch: nothing is stored twice, even by
writers storing at the same moment.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from callcenter.agents.history import AgentHistoryWriter
from callcenter.agents.notifier import AgentStateChanged
from hcrm_core.db import Database
from hcrm_core.models import AgentStateChange, Role, User

T0 = 1_790_000_000.0
SKEW = 0.004  # the follower sees each change this much later


def _change(user_id: int, state: str, since: float) -> AgentStateChanged:
    agent = {"state": state, "pause_reason": "", "extension": "1001", "since": since}
    return AgentStateChanged("alice", agent, user_id=user_id)


async def _stored(database: Database, user_id: int) -> list[tuple[str, float]]:
    async with database.session() as session:
        rows = await session.scalars(
            select(AgentStateChange)
            .where(AgentStateChange.user_id == user_id)
            .order_by(AgentStateChange.at, AgentStateChange.id)
        )
        return [(r.state, round(r.at.timestamp(), 3)) for r in rows]


async def test_a_new_leader_stores_what_the_old_one_did_not_and_nothing_twice(
    database: Database,
) -> None:
    async with database.transaction() as session:
        user = User(username="alice", display_name="Alice", role=Role.AGENT, password_hash="x")
        session.add(user)
    leader = {"a": True, "b": False}
    a, b = AgentHistoryWriter(None, database), AgentHistoryWriter(None, database)  # type: ignore[arg-type]
    a.writes, b.writes = (lambda: leader["a"]), (lambda: leader["b"])

    def both(state: str, since: float) -> None:
        a.record(_change(user.id, state, since))
        b.record(_change(user.id, state, since + SKEW))

    both("ready", T0)
    both("ringing", T0 + 10)
    await asyncio.gather(a.flush(), b.flush())
    both("on_call", T0 + 12)  # in A's batch when it dies (or freezes)
    leader["a"] = False
    both("wrap_up", T0 + 40)  # nobody leads for a second
    leader["b"] = True
    await b.flush()
    assert await _stored(database, user.id) == [
        ("ready", T0),
        ("ringing", T0 + 10),
        ("on_call", T0 + 12 + SKEW),
        ("wrap_up", T0 + 40 + SKEW),
    ]
    # The old leader wakes up and writes its last batch: stored already.
    await a.flush()
    assert len(await _stored(database, user.id)) == 4
    # Writers storing one change at the same moment (an old leader that does not know yet
    # that it lost, the new one; six here, to make them meet) store it once.
    writers = [a, b, *(AgentHistoryWriter(None, database) for _ in range(4))]  # type: ignore[arg-type]
    for i, writer in enumerate(writers):
        writer.writes = lambda: True
        writer.record(_change(user.id, "ready", T0 + 60 + i * SKEW))
    await asyncio.gather(*(writer.flush() for writer in writers))
    assert [state for state, _ in await _stored(database, user.id)] == [
        "ready",
        "ringing",
        "on_call",
        "wrap_up",
        "ready",
    ]
