"""Two leader elections on one PostgreSQL database, as two server processes run them.

Exactly one leads; when the leader's lock connection dies (what ``kill -9`` does to it) or the
leader freezes with its connection open, the other leads within 5 s with a newer epoch, and
the old leader's fenced writes are refused by the database itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text

from callcenter.cluster.leader import LeaderElection
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import StorageUnavailable
from hcrm_core.models import AttemptStatus, utcnow
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_attempts import AttemptService
from hcrm_core.services.leadership import LEASE_SECONDS, Fence, Fenced, read_leadership
from tests.support.factories import make_patient

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
TAKEOVER = 5.0  # the bound


@pytest.fixture
async def other(database: Database) -> AsyncIterator[Database]:
    """The second process's own engine on the same database."""
    db = Database(database.url)
    yield db
    await db.dispose()


class Journal:
    """What the leader-only parts of each election did, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def election(self, database: Database, node: str) -> LeaderElection:
        election = LeaderElection(database, node=node)
        for part in ("dialing", "nightly"):
            election.add(
                part, self._note(f"{node} start {part}"), self._note(f"{node} stop {part}")
            )
        return election

    def _note(self, line: str) -> Callable[[], asyncio.Future[None]]:
        async def note() -> None:
            self.lines.append(line)

        return note  # type: ignore[return-value]


async def wait_until(done: Callable[[], bool], within: float, what: str) -> float:
    started = time.monotonic()
    try:
        async with asyncio.timeout(within):
            while not done():  # noqa: ASYNC110 - a flag another task's loop sets
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {within} s: {what}") from None
    return time.monotonic() - started


async def lock_pid(database: Database) -> int:
    async with database.session() as session:
        leadership = await read_leadership(session)
    assert leadership.lock_pid is not None
    return leadership.lock_pid


async def terminate(database: Database, pid: int) -> None:
    async with database.session() as session:
        await session.execute(text("SELECT pg_terminate_backend(:pid, 2000)"), {"pid": pid})


async def fenced_write(database: Database, fence: Fence) -> None:
    async with database.transaction() as session:
        await fence.check(session)


async def _scheduled_attempt(database: Database, policy: BookingPolicy) -> int:
    patient = await make_patient(database, policy, phones=("+12125550123",))
    campaigns = CampaignService(database, policy)
    settings = {"window": {"weekdays": list(range(7))}, "targets": {"patient_ids": [patient.id]}}
    campaign = await campaigns.create("fenced", "survey", settings, Actor.system())
    assert await campaigns.start(campaign.id, Actor.system()) == 1
    (attempt,) = await AttemptService(database).due(campaign.id, utcnow(), limit=5)
    return attempt[0]


async def test_one_leader_then_takeover_when_its_connection_dies(
    database: Database, other: Database, policy: BookingPolicy
) -> None:
    journal = Journal()
    a, b = journal.election(database, "a"), journal.election(other, "b")
    await a.start()
    await b.start()
    try:
        assert (a.is_leader, b.is_leader) == (True, False)
        assert journal.lines == ["a start dialing", "a start nightly"]
        first = a.fence.epoch
        assert first is not None
        await fenced_write(database, a.fence)  # the leader's write passes

        # A paused copy of the leader's fence, as the old process holds it when it wakes.
        stale = Fence()
        stale.grant(first, renewed_at=time.monotonic())
        await terminate(database, await lock_pid(database))  # kill -9 closes it like this
        took = await wait_until(lambda: b.is_leader, TAKEOVER, "b leads")
        assert b.fence.epoch == first + 1, (took, b.fence.epoch)
        await wait_until(lambda: not a.is_leader, 3.0, "a notices its lock connection is gone")
        # b started its parts, a stopped its own in reverse (in whichever order they came).
        assert sorted(journal.lines[2:]) == [
            "a stop dialing",
            "a stop nightly",
            "b start dialing",
            "b start nightly",
        ]
        assert [line for line in journal.lines if line.startswith("a stop")] == [
            "a stop nightly",
            "a stop dialing",
        ]
        # The old leader writes nothing: refused by its own revoked fence...
        with pytest.raises(Fenced):
            await fenced_write(database, a.fence)
        # ...and by the database when the fence still believes (the epoch moved on).
        with pytest.raises(Fenced):
            await fenced_write(database, stale)
        # A campaign attempt the old leader would claim before its Originate: refused, and
        # left scheduled for the new leader, whose claim takes it.
        attempt_id = await _scheduled_attempt(database, policy)
        attempts = AttemptService(database)
        with pytest.raises(Fenced):
            await attempts.claim(
                attempt_id, now=utcnow(), day_start=utcnow(), max_per_day=3, fence=stale
            )
        assert (await attempts.get(attempt_id)).status is AttemptStatus.SCHEDULED
        await AttemptService(other).claim(
            attempt_id, now=utcnow(), day_start=utcnow(), max_per_day=3, fence=b.fence
        )
        assert (await attempts.get(attempt_id)).status is AttemptStatus.DIALLING
        await fenced_write(other, b.fence)
        # The old leader follows from now on: exactly one leader again.
        await asyncio.sleep(1.5)
        assert (a.is_leader, b.is_leader) == (False, True)
    finally:
        await b.stop()
        await a.stop()


async def test_frozen_leader_is_ended_and_replaced_within_5_s(
    database: Database, other: Database
) -> None:
    journal = Journal()
    a, b = journal.election(database, "a"), journal.election(other, "b")
    await a.start()
    await b.start()
    try:
        first = a.fence.epoch
        assert a.is_leader and first is not None
        # Frozen (SIGSTOP): its loop stops, its connection stays open, its lock held; and one
        # of its claims is half-way through a transaction, holding the leadership row.
        assert a._task is not None
        a._task.cancel()
        frozen_claim = database.transaction()
        session = await frozen_claim.__aenter__()
        await a.fence.check(session)
        took = await wait_until(lambda: b.is_leader, TAKEOVER, "b ends the frozen leader")
        assert b.fence.epoch == first + 1, took
        print(f"frozen leader replaced after {took:.2f} s")
        # Its lease ran out before the takeover: woken, it sends no Originate.
        assert not a.fence.valid
        with pytest.raises(Fenced):
            a.fence.check_lease()
        # Woken, its next round finds its connection ended: it stops its parts.
        await a.step()
        assert not a.is_leader
        assert journal.lines[-2:] == ["a stop nightly", "a stop dialing"]
        # PostgreSQL ended its idle transaction: it commits nothing.
        with pytest.raises(StorageUnavailable):
            await frozen_claim.__aexit__(None, None, None)
    finally:
        await b.stop()
        await a.stop()


async def test_stopping_leader_hands_over_at_once(database: Database, other: Database) -> None:
    journal = Journal()
    a, b = journal.election(database, "a"), journal.election(other, "b")
    await a.start()
    await b.start()
    try:
        await a.stop()
        assert journal.lines[-2:] == ["a stop nightly", "a stop dialing"]
        await wait_until(lambda: b.is_leader, 2.0, "b leads after a stopped")
        async with other.session() as s:
            leadership = await read_leadership(s)
        assert leadership.leader == "b"
        assert b.health() | {"parts": None} == {
            "leader": True,
            "epoch": leadership.epoch,
            "node": "b",
            "clustered": True,
            "parts": None,
        }
    finally:
        await b.stop()
        await a.stop()


async def test_a_long_fenced_write_does_not_cost_the_leadership(database: Database) -> None:
    election = LeaderElection(database, node="a")
    await election.start()
    try:
        # A nightly job's transaction holds the leadership row (FOR SHARE) for seconds: the
        # heartbeat, a read, goes on meanwhile.
        async with database.transaction() as session:
            await election.fence.check(session)
            for _ in range(3):
                async with asyncio.timeout(1.0):
                    await election.step()
                assert election.is_leader
                await asyncio.sleep(0.5)
    finally:
        await election.stop()


async def test_a_stalled_lone_leader_renews_without_restarting_its_parts(
    database: Database,
) -> None:
    """A busy machine stalls the loop past the lease: Originates are refused meanwhile, but
    with no follower taking over, the next heartbeat renews the lease and the parts run on."""
    journal = Journal()
    election = journal.election(database, "a")
    await election.start()
    try:
        epoch = election.fence.epoch
        time.sleep(LEASE_SECONDS + 0.2)  # noqa: ASYNC251 - the loop blocked, as under load
        assert not election.fence.valid
        async with asyncio.timeout(2.0):
            await election.step()
        assert election.is_leader and election.fence.valid
        assert election.fence.epoch == epoch
        assert journal.lines == ["a start dialing", "a start nightly"]
    finally:
        await election.stop()
