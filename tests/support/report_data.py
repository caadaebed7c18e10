"""Seeded data for the report tests: calls and agent states around the autumn DST change
(America/New_York, 2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00 UTC), with figures
computed by hand in the tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hcrm_core.db import Database
from hcrm_core.models import AgentStateChange, Call, CallDirection, CallQueue, Role, User
from tests.support.factories import utc


@dataclass(frozen=True)
class Seeded:
    alice: int
    bob: int
    supervisor: int


def _user(username: str, role: Role, extension: str | None) -> User:
    return User(
        username=username,
        display_name=username.title(),
        role=role,
        password_hash="x",
        extension=extension,
    )


def _call(
    n: int,
    queue: str,
    queued_at: datetime,
    wait: float,
    *,
    agent: str | None = None,
    talk: float | None = None,
    abandoned: bool = False,
    agent_user_id: int | None = None,
) -> Call:
    answered = queued_at + timedelta(seconds=wait) if agent else None
    ended = (
        answered + timedelta(seconds=talk)
        if answered and talk is not None
        else queued_at + timedelta(seconds=wait)
    )
    return Call(
        linkedid=f"rep-{n}",
        direction=CallDirection.INBOUND,
        started_at=queued_at - timedelta(seconds=20),
        queue=queue,
        queued_at=queued_at,
        queue_wait_seconds=wait,
        abandoned=abandoned,
        agent_interface=agent,
        agent_user_id=agent_user_id,
        answered_at=answered,
        ended_at=ended,
    )


async def seed_reports(database: Database) -> Seeded:
    async with database.transaction() as session:
        alice = _user("alice", Role.AGENT, "1001")
        bob = _user("bob", Role.AGENT, "1002")
        boss = _user("sue", Role.SUPERVISOR, None)
        session.add_all([alice, bob, boss, CallQueue(name="general", display_name="General")])
        await session.flush()
        session.add_all(
            [
                # Answered at 01:30 EDT; the racing abandon flag must not make it abandoned.
                _call(
                    1,
                    "general",
                    utc(2026, 11, 1, 5, 30),
                    10,
                    agent="PJSIP/1001",
                    talk=300,
                    abandoned=True,
                ),
                # 01:30 EST, the repeated hour: answered after 30 s (outside 20 s).
                _call(2, "general", utc(2026, 11, 1, 6, 30), 30, agent="PJSIP/1002", talk=120),
                _call(3, "general", utc(2026, 11, 1, 14, 0), 45, abandoned=True),
                _call(4, "general", utc(2026, 11, 1, 15, 0), 60),  # left by a timeout
                # 23:30 EST on Nov 1; saved by alice from another phone.
                _call(
                    5,
                    "general",
                    utc(2026, 11, 2, 4, 30),
                    5,
                    agent="PJSIP/9999",
                    talk=60,
                    agent_user_id=alice.id,
                ),
                _call(6, "general", utc(2026, 11, 2, 5, 30), 7, abandoned=True),  # Nov 2
                _call(7, "general", utc(2026, 11, 1, 3, 30), 9, abandoned=True),  # Oct 31
                _call(8, "billing", utc(2026, 11, 1, 12, 0), 12, abandoned=True),
            ]
        )
        states = [
            (alice, "ready", "", utc(2026, 10, 31, 20, 0)),
            (alice, "paused", "lunch", utc(2026, 11, 1, 13, 30)),
            (alice, "ready", "", utc(2026, 11, 1, 14, 0)),
            (alice, "paused", "training", utc(2026, 11, 1, 14, 10)),
            (alice, "on_call", "", utc(2026, 11, 1, 14, 20)),
            (alice, "wrap_up", "", utc(2026, 11, 1, 14, 25)),
            (alice, "signed_out", "", utc(2026, 11, 1, 14, 26)),
            (bob, "ready", "", utc(2026, 11, 2, 4, 0)),
        ]
        session.add_all(
            AgentStateChange(
                user_id=u.id,
                username=u.username,
                extension=u.extension or "",
                state=s,
                pause_reason=r,
                at=at,
            )
            for u, s, r, at in states
        )
    return Seeded(alice.id, bob.id, boss.id)
