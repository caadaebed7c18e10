"""Two relays on one PostgreSQL database, as two server processes would run them.

Each relay has its own bus: an event published on one reaches the other's bus once, is not
echoed back to its own, survives a dropped listening connection (caught up from the table),
and old rows are pruned.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from callcenter.agents.notifier import QueuesChanged
from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress
from callcenter.cluster.relay import EventRelay, RelaySettings, asyncpg_dsn
from hcrm_core.db import Database

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
WAIT = 10.0
KINDS = (IvrProgress, QueuesChanged)


class Heard:
    """Everything one bus delivered of the relayed kinds."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[object] = []
        self._changed = asyncio.Event()
        bus.subscribe(object, self._on, name="heard", predicate=lambda e: isinstance(e, KINDS))

    async def _on(self, event: object) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, done: Callable[[list[object]], bool], what: str) -> None:
        try:
            async with asyncio.timeout(WAIT):
                while not done(self.events):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"not heard within {WAIT} s: {what}; heard {self.events}"
            ) from None


class Process:
    """A bus with its relay: what one server process has."""

    def __init__(self, dsn: str, name: str, settings: RelaySettings) -> None:
        self.bus = EventBus()
        self.heard = Heard(self.bus)
        self.relay = EventRelay(self.bus, dsn, KINDS, origin=name, settings=settings)

    async def listening(self) -> None:
        async with asyncio.timeout(WAIT):
            while not self.relay.stats.listening:  # noqa: ASYNC110 - a flag, no event to await
                await asyncio.sleep(0.02)


Two = tuple[Process, Process, str]


@pytest.fixture
async def two(database: Database) -> AsyncIterator[tuple[Process, Process, str]]:
    dsn = asyncpg_dsn(database.url)
    settings = RelaySettings(reconnect_min_seconds=1.0, keepalive_seconds=1.0)
    a, b = Process(dsn, "process-a", settings), Process(dsn, "process-b", settings)
    await a.relay.start()
    await b.relay.start()
    await a.listening()
    await b.listening()
    try:
        yield a, b, dsn
    finally:
        await a.relay.stop()
        await b.relay.stop()
        await a.bus.close()
        await b.bus.close()


def _step(linkedid: str, step: str) -> IvrProgress:
    return IvrProgress(linkedid, step, {"tried": ["identify-caller-id"]}, patient_id=3)


async def _rows(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM cluster_events")
        return count
    finally:
        await conn.close()


async def test_an_event_reaches_the_other_process_once_and_is_not_echoed(two: Two) -> None:
    a, b, dsn = two
    sent = _step("1700000000.1", "main-menu")
    a.bus.publish(sent)
    a.bus.publish(QueuesChanged((("general", "General"),)))
    await b.heard.wait_for(lambda e: len(e) == 2, "both events on B")
    assert b.heard.events == [sent, QueuesChanged((("general", "General"),))]
    await asyncio.sleep(0.5)  # room for an echo or a re-relay, which must not come
    await a.bus.join()
    await b.bus.join()
    assert len(a.heard.events) == 2  # its own two, not again from B
    assert len(b.heard.events) == 2
    assert await _rows(dsn) == 2  # B did not write A's events back
    assert (b.relay.stats.received, b.relay.stats.sent) == (2, 0)


async def test_a_big_event_travels_by_its_id(two: Two) -> None:
    a, b, _dsn = two
    big = IvrProgress("1700000000.2", "notes", {"note": "x" * 9000})
    a.bus.publish(big)
    await b.heard.wait_for(lambda e: e == [big], "the 9000-byte event")


async def test_a_listener_that_lost_its_connection_catches_up(two: Two) -> None:
    a, b, dsn = two
    admin = await asyncpg.connect(dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", b.relay.listener_pid)
    finally:
        await admin.close()
    # Published while B is away (it waits 1 s before connecting again): no NOTIFY reaches it.
    missed = [_step("1700000000.3", f"step-{n}") for n in range(5)]
    for event in missed:
        a.bus.publish(event)
    await b.heard.wait_for(lambda e: len(e) == len(missed), "the missed events")
    assert b.heard.events == missed
    assert b.relay.stats.reconnects >= 1 and b.relay.stats.caught_up == len(missed)
    a.bus.publish(_step("1700000000.3", "after"))  # and live again
    await b.heard.wait_for(lambda e: len(e) == len(missed) + 1, "the event after the gap")
    assert len(b.heard.events) == len(missed) + 1


async def test_old_events_are_pruned(database: Database) -> None:
    dsn = asyncpg_dsn(database.url)
    settings = RelaySettings(retention_seconds=0.0, prune_every_seconds=0.1)
    a = Process(dsn, "process-a", settings)
    await a.relay.start()
    try:
        a.bus.publish(_step("1700000000.4", "main-menu"))
        await a.bus.join()
        async with asyncio.timeout(WAIT):
            while await _rows(dsn):  # noqa: ASYNC110 - rows in another process's table
                await asyncio.sleep(0.05)
    finally:
        await a.relay.stop()
        await a.bus.close()
