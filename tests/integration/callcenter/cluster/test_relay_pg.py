"""Two relays on one PostgreSQL database, as two server processes would run them.

Each relay has its own bus: an event published on one reaches the other's bus once, is not
echoed back to its own, survives a dropped listening connection (caught up from the table),
is kept and written later when the writer cannot reach the database, and old rows are pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from callcenter.agents.notifier import QueuesChanged
from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress
from callcenter.cluster.relay import EventRelay, RelaySettings, asyncpg_dsn
from hcrm_core.db import Database
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

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
    assert b.heard.events == [big]  # whole, the 9000 bytes read back by its id
    assert (a.relay.stats.sent, b.relay.stats.received) == (1, 1)


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
        await _until(lambda: a.relay.stats.sent == 1, "the event written")
        try:
            async with asyncio.timeout(WAIT):
                while await _rows(dsn):  # noqa: ASYNC110 - rows in another process's table
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"the written event not pruned within {WAIT} s") from None
        assert await _rows(dsn) == 0  # the row is gone
        assert (a.relay.stats.sent, a.relay.stats.dropped) == (1, 0)
    finally:
        await a.relay.stop()
        await a.bus.close()


async def _until(check: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT):
            while not check():  # noqa: ASYNC110 - the relay's counters, no event to await
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {WAIT} s: {what}") from None


@contextlib.asynccontextmanager
async def _writer_behind_a_proxy(
    database: Database, settings: RelaySettings
) -> AsyncIterator[tuple[Process, Process, TcpProxy, str]]:
    """A reaches the database through a proxy the test cuts; B directly."""
    dsn = asyncpg_dsn(database.url)
    url = make_url(dsn)
    async with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(port=proxy.port).render_as_string(hide_password=False)
        a, b = Process(through, "process-a", settings), Process(dsn, "process-b", settings)
        await a.relay.start()
        await b.relay.start()
        try:
            await a.listening()
            await b.listening()
            yield a, b, proxy, dsn
        finally:
            proxy.restore()
            await a.relay.stop()
            await b.relay.stop()
            await a.bus.close()
            await b.bus.close()


_RETRY_FAST = RelaySettings(
    reconnect_min_seconds=0.1, reconnect_max_seconds=0.5, keepalive_seconds=1.0
)


async def test_events_published_while_the_database_is_away_arrive_once_in_order(
    database: Database,
) -> None:
    async with _writer_behind_a_proxy(database, _RETRY_FAST) as (a, b, proxy, dsn):
        before = _step("1700000000.5", "before")
        a.bus.publish(before)
        await b.heard.wait_for(lambda e: e == [before], "the event before the outage")
        await _until(lambda: a.relay.pending == 0, "A's write answered")
        proxy.cut()
        away = [_step("1700000000.5", f"away-{n}") for n in range(30)]
        for event in away:
            a.bus.publish(event)
        # The bus is not held up: every event waits in A, whose writes fail and are retried.
        await _until(
            lambda: a.relay.pending == len(away) and a.relay.stats.send_failed >= 2,
            "the events kept while the database is away",
        )
        assert a.relay.health()["pending"] == len(away)
        assert b.heard.events == [before]
        proxy.restore()
        await b.heard.wait_for(lambda e: len(e) == 1 + len(away), "the events kept during it")
        after = _step("1700000000.5", "after")
        a.bus.publish(after)
        # Written in order by one writer: once "after" is heard, any copy would have been too.
        await b.heard.wait_for(lambda e: after in e, "the event after the outage")
        assert b.heard.events == [before, *away, after]
        # B hears an event at its commit, a moment before A has the answer.
        await _until(lambda: a.relay.pending == 0, "A's writes answered")
        assert await _rows(dsn) == len(away) + 2
        assert (a.relay.pending, a.relay.stats.sent, a.relay.stats.dropped) == (0, 32, 0)
        assert b.relay.stats.received == len(away) + 2


async def test_beyond_the_pending_limit_the_oldest_are_dropped_and_counted(
    database: Database,
) -> None:
    settings = RelaySettings(
        reconnect_min_seconds=0.1, reconnect_max_seconds=0.5, keepalive_seconds=1.0, pending_limit=5
    )
    async with _writer_behind_a_proxy(database, settings) as (a, b, proxy, _dsn):
        proxy.cut()
        away = [_step("1700000000.6", f"away-{n}") for n in range(8)]
        for event in away:
            a.bus.publish(event)
        await _until(
            lambda: a.relay.stats.dropped == 3 and a.relay.stats.send_failed >= 1,
            "the three oldest dropped",
        )
        assert a.relay.pending == 5
        proxy.restore()
        await _until(lambda: a.relay.pending == 0, "the five kept written")
        after = _step("1700000000.6", "after")
        a.bus.publish(after)
        await b.heard.wait_for(lambda e: after in e, "the event after the outage")
        assert b.heard.events == [*away[3:], after]
        await _until(lambda: a.relay.pending == 0, "A's writes answered")
        assert (a.relay.stats.sent, a.relay.stats.dropped) == (6, 3)


async def test_a_write_cut_after_its_commit_is_not_written_twice(database: Database) -> None:
    async with _writer_behind_a_proxy(database, _RETRY_FAST) as (a, b, proxy, dsn):
        # A first write prepares the statement on A's connection: muted, only its execution
        # (whose answer asyncpg does not wait for before sending) gets through.
        first = _step("1700000000.7", "first")
        a.bus.publish(first)
        await _until(lambda: a.relay.stats.sent == 1, "the first write answered")
        proxy.muted = True  # the database commits A's next write; A never hears the answer
        committed = _step("1700000000.7", "committed")
        a.bus.publish(committed)
        await b.heard.wait_for(lambda e: e == [first, committed], "the committed event")
        assert a.relay.pending == 1 and a.relay.stats.sent == 1
        proxy.cut()
        await _until(lambda: a.relay.stats.send_failed >= 1, "A's write failed")
        proxy.restore()
        after = _step("1700000000.7", "after")
        a.bus.publish(after)
        await b.heard.wait_for(lambda e: after in e, "the event after the cut")
        await _until(lambda: a.relay.pending == 0, "A's writes answered")
        assert b.heard.events == [first, committed, after]
        assert await _rows(dsn) == 3
        assert (a.relay.stats.sent, a.relay.stats.dropped) == (3, 0)
