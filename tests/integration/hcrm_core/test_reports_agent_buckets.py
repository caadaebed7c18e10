"""The agent report bucket by bucket, against figures computed here the plain way (every
stretch and call against every bucket), around the autumn DST change, on SQLite and
PostgreSQL; and the two ways the calls are read (each call, or summed by the database) agree
on the same rows."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.models import AgentStateChange, Call, CallDirection, Role, User
from hcrm_core.services.reports_agent_calls import HandledCalls, each_call, summed_calls
from hcrm_core.services.reports_agent_states import stretches_in_sql, stretches_of_changes
from hcrm_core.services.reports_agents import (
    TIMED_STATES,
    agent_report,
    extension_of,
)
from hcrm_core.services.reports_period import Bucket, Period, parse_period
from tests.support.factories import utc

NY = ZoneInfo("America/New_York")
# 2026-11-01 02:00 EDT becomes 01:00 EST at 06:00 UTC: the day has 25 hours.
FIRST, LAST = "2026-10-31", "2026-11-02"
NOW = utc(2026, 11, 2, 15, 7, 30)  # inside the period: the open states stop here
STATES = ("ready", "paused", "ringing", "on_call", "wrap_up", "signed_out")
REASONS = ("lunch", "training", "")


def _moments(rng: random.Random, count: int) -> list[datetime]:
    """Times over the period and the day before it, with microseconds, some exactly on a
    quarter hour (a bucket's edge), the DST change's 06:00 UTC among them."""
    begin = utc(2026, 10, 30, 20, 0)
    span = int((utc(2026, 11, 3, 6, 0) - begin).total_seconds())
    moments = [utc(2026, 11, 1, 6, 0)]
    for _ in range(count - 1):
        at = begin + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
        if rng.random() < 0.2:
            at = at.replace(minute=at.minute // 15 * 15, second=0, microsecond=0)
        moments.append(at)
    return sorted(moments)


def _change(user: User, state: str, reason: str, at: datetime) -> AgentStateChange:
    return AgentStateChange(
        user_id=user.id,
        username=user.username,
        extension=user.extension or "",
        state=state,
        pause_reason=reason,
        at=at,
    )


async def _seed(database: Database) -> list[User]:
    rng = random.Random(17)
    async with database.transaction() as session:
        users = [
            User(username="alice", display_name="Alice", role=Role.AGENT, extension="1001"),
            User(username="bob", display_name="Bob", role=Role.AGENT, extension="1002"),
            User(username="carol", display_name="Carol", role=Role.AGENT, extension=None),
            # Not an agent, but with an extension: in the report.
            User(username="sue", display_name="Sue", role=Role.SUPERVISOR, extension="1003"),
        ]
        for user in users:
            user.password_hash = "x"
        session.add_all(users)
        await session.flush()
        for user, count in ((users[0], 60), (users[2], 30), (users[3], 3)):
            moments = _moments(rng, count)
            moments.insert(1, moments[1])  # two changes at the same moment
            session.add_all(
                _change(user, rng.choice(STATES), rng.choice(REASONS), at) for at in moments
            )
        # Bob's stretches cover whole buckets, the 25-hour day among them; his last one is
        # still open.
        bob = users[1]
        session.add_all(
            [
                _change(bob, "ready", "", utc(2026, 10, 30, 22, 0)),
                _change(bob, "paused", "", utc(2026, 11, 2, 12, 0, 0, 500_000)),
                _change(bob, "on_call", "", utc(2026, 11, 2, 12, 20)),
                _change(bob, "signed_out", "", utc(2026, 11, 2, 13, 0)),
                _change(bob, "ready", "", utc(2026, 11, 2, 14, 59, 59, 999_999)),
            ]
        )
        interfaces = ["PJSIP/1001", "Local/1002@agents;1", "PJSIP/1003", "PJSIP/9999", "1001"]
        for n, answered in enumerate(_moments(rng, 300)):
            ended = answered + timedelta(seconds=rng.uniform(-5, 900))
            session.add(
                Call(
                    linkedid=f"b-{n}",
                    direction=CallDirection.INBOUND,
                    started_at=answered - timedelta(seconds=30),
                    queue="general",
                    queued_at=answered - timedelta(seconds=10),
                    abandoned=False,
                    agent_interface=rng.choice(interfaces),
                    # Saved by carol (no extension) or by alice from another phone.
                    agent_user_id=rng.choice([None, None, None, users[2].id, users[0].id]),
                    answered_at=answered,
                    ended_at=None if n % 37 == 0 else ended,  # a call still going
                )
            )
    return users


def _overlap(begin: datetime, end: datetime, bucket: Bucket) -> float:
    return max(0.0, (min(end, bucket.end) - max(begin, bucket.start)).total_seconds())


Cell = tuple[dict[str, float], dict[str, float], int, float]


async def _expected(
    database: Database, period: Period, users: list[User], now: datetime
) -> dict[str, list[Cell]]:
    """Each agent's figures per bucket (time by state, paused by reason, calls, handle
    time), every stretch and every call tried against every bucket."""
    buckets = period.buckets()
    until = min(period.end, now)
    async with database.session() as session:
        history = list(
            await session.scalars(
                select(AgentStateChange).order_by(
                    AgentStateChange.user_id, AgentStateChange.at, AgentStateChange.id
                )
            )
        )
        calls = list(await session.scalars(select(Call)))
    cells: dict[int, list[Cell]] = {
        u.id: [(dict.fromkeys(TIMED_STATES, 0.0), {}, 0, 0.0) for _ in buckets] for u in users
    }
    by_user: dict[int, list[AgentStateChange]] = defaultdict(list)
    for change in history:
        by_user[change.user_id].append(change)
    for user_id, changes in by_user.items():
        for change, following in zip(changes, [*changes[1:], None], strict=True):
            begin = max(change.at, period.start)
            end = min(following.at if following else until, until)
            if change.state == "signed_out" or end <= begin:
                continue
            for index, bucket in enumerate(buckets):
                part = _overlap(begin, end, bucket)
                if part:
                    seconds, reasons, _, _ = cells[user_id][index]
                    seconds[change.state] += part
                    if change.state == "paused":
                        key = change.pause_reason or "no reason"
                        reasons[key] = reasons.get(key, 0.0) + part
    by_extension = {u.extension: u.id for u in users if u.extension}
    for call in calls:
        assert call.answered_at is not None and call.agent_interface is not None
        if call.ended_at is None or not period.start <= call.answered_at < period.end:
            continue
        owner = call.agent_user_id or by_extension.get(extension_of(call.agent_interface))
        if owner is None:
            continue
        index = next(i for i, b in enumerate(buckets) if b.start <= call.answered_at < b.end)
        seconds, reasons, count, handle = cells[owner][index]
        handle += max(0.0, (call.ended_at - call.answered_at).total_seconds())
        cells[owner][index] = (seconds, reasons, count + 1, handle)
    return {u.username: cells[u.id] for u in users}


@pytest.mark.parametrize("by", ["15min", "hour", "day", "week"])
async def test_every_bucket_holds_what_its_stretches_and_calls_give(database, by):
    users = await _seed(database)
    period = parse_period(FIRST, LAST, by, NY)
    report = await agent_report(database, period, now=NOW)
    expected = await _expected(database, period, users, NOW)
    assert [line.username for line in report.agents] == sorted(expected)
    # SQLite's time arithmetic (julianday) is good to a millisecond or so.
    close = 1e-6 if database.dialect == "postgresql" else 1e-2
    for line in report.agents:
        cells = expected[line.username]
        assert len(line.buckets) == len(cells)
        for got, (seconds, reasons, count, handle) in zip(line.buckets, cells, strict=True):
            assert got.seconds == pytest.approx(seconds, abs=1e-6)
            assert got.paused_by_reason == pytest.approx(reasons, abs=1e-6)
            assert (got.calls_handled, got.handle_total) == (
                count,
                pytest.approx(handle, abs=close),
            )
        total = line.total
        for state in TIMED_STATES:
            assert total.seconds[state] == pytest.approx(sum(c[0][state] for c in cells), abs=1e-5)
        assert total.calls_handled == sum(c[2] for c in cells)
        assert total.handle_total == pytest.approx(sum(c[3] for c in cells), abs=close * 10)
    # The data reaches every corner: time in each state, a reason-less pause, calls saved by
    # an agent without an extension, and on the 25-hour day's repeated hour.
    alice, carol = report.agents[0], report.agents[2]
    assert all(alice.total.seconds[s] > 0 for s in TIMED_STATES)
    assert (
        "no reason" in alice.total.paused_by_reason or "no reason" in carol.total.paused_by_reason
    )
    assert carol.total.calls_handled > 0
    if by == "hour":
        repeated = [
            i
            for i, b in enumerate(report.buckets)
            if b.label(period.granularity).endswith("EST")
            and "01:00" in b.label(period.granularity)
        ]
        assert repeated and any(line.buckets[repeated[0]].signed_in > 0 for line in report.agents)


@pytest.mark.parametrize(
    "database", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("by", ["15min", "hour"])
async def test_each_call_and_the_database_sums_agree(database, by):
    """PostgreSQL reads each call (one array per agent) for quarter hours and hours, and
    sums by the database otherwise and on SQLite: both give the same figures per bucket."""
    await _seed(database)
    period = parse_period(FIRST, LAST, by, NY)
    buckets = period.buckets()
    edges = [b.start.timestamp() for b in buckets] + [period.end.timestamp()]

    def by_bucket(groups: list[HandledCalls]) -> dict[tuple[object, str, int], list[float]]:
        sums: dict[tuple[object, str, int], list[float]] = defaultdict(lambda: [0, 0.0])
        for group in groups:
            counts = group.counts or [1] * len(group.indexes)
            for index, count, handle in zip(group.indexes, counts, group.handles, strict=True):
                sums[group.user_id, group.interface, index][0] += count
                sums[group.user_id, group.interface, index][1] += handle
        return dict(sums)

    each = by_bucket(await each_call(database, period, edges))
    summed = by_bucket(await summed_calls(database, period, buckets))
    assert each.keys() == summed.keys() and len(each) > 20
    for key, (count, handle) in each.items():
        assert (count, handle) == (summed[key][0], pytest.approx(summed[key][1], abs=1e-6))


@pytest.mark.parametrize(
    "database", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("now", [NOW, utc(2026, 11, 5)])
async def test_the_stretches_made_in_sql_and_in_python_agree(database, now):
    """PostgreSQL makes the stretches in SQL (lead over the changes), SQLite in Python from
    the changes: on the same rows, the same stretches, to the microsecond."""
    users = await _seed(database)
    period = parse_period(FIRST, LAST, "15min", NY)
    ids = [u.id for u in users]
    until = min(period.end, now).timestamp()
    in_sql = await stretches_in_sql(database, period, ids, until)
    in_python = await stretches_of_changes(database, period, ids, until)
    assert [tuple(s) for s in in_sql] == in_python
    assert len(in_python) > 50 and {s[0] for s in in_python} == set(ids)
