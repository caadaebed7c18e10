"""The in-process event bus: ordered delivery, isolation of slow and failing subscribers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from callcenter.bus import EventBus


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class SpecialPing(Ping):
    pass


@dataclass(frozen=True)
class Other:
    text: str


async def test_delivers_in_order_by_type_and_subclass() -> None:
    bus = EventBus()
    pings: list[Ping] = []
    others: list[Other] = []

    async def on_ping(event: Ping) -> None:
        pings.append(event)

    async def on_other(event: Other) -> None:
        others.append(event)

    bus.subscribe(Ping, on_ping)
    bus.subscribe(Other, on_other)
    for n in range(5):
        bus.publish(Ping(n))
    bus.publish(SpecialPing(5))
    bus.publish(Other("x"))
    async with asyncio.timeout(2):
        await bus.join()
    assert [p.n for p in pings] == [0, 1, 2, 3, 4, 5]
    assert others == [Other("x")]
    await bus.close()


async def test_predicate_filters_on_publisher_side() -> None:
    bus = EventBus()
    seen: list[int] = []

    async def handler(event: Ping) -> None:
        seen.append(event.n)

    sub = bus.subscribe(Ping, handler, predicate=lambda e: e.n % 2 == 0, maxsize=3)
    for n in range(6):
        bus.publish(Ping(n))
    async with asyncio.timeout(2):
        await bus.join()
    assert seen == [0, 2, 4]
    assert sub.stats().dropped == 0
    await bus.close()


async def test_slow_subscriber_drops_without_blocking_others() -> None:
    bus = EventBus()
    release = asyncio.Event()
    all_fast = asyncio.Event()
    fast: list[int] = []

    async def slow(event: Ping) -> None:
        await release.wait()

    async def quick(event: Ping) -> None:
        fast.append(event.n)
        if len(fast) == 10:
            all_fast.set()

    slow_sub = bus.subscribe(Ping, slow, name="slow", maxsize=2)
    bus.subscribe(Ping, quick, name="quick")
    for n in range(10):
        bus.publish(Ping(n))  # returns at once even though "slow" never finishes
    async with asyncio.timeout(2):
        await all_fast.wait()
    assert fast == list(range(10))
    # One event is being handled, two are queued, the rest were dropped and counted.
    assert slow_sub.stats().dropped >= 7
    release.set()
    async with asyncio.timeout(2):
        await bus.join()
    await bus.close()


async def test_failing_subscriber_is_logged_and_keeps_receiving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    handled: list[int] = []

    async def flaky(event: Ping) -> None:
        if event.n == 1:
            raise RuntimeError("boom")
        handled.append(event.n)

    sub = bus.subscribe(Ping, flaky, name="flaky")
    with caplog.at_level(logging.ERROR, logger="callcenter.bus"):
        for n in range(3):
            bus.publish(Ping(n))
        async with asyncio.timeout(2):
            await bus.join()
    assert handled == [0, 2]
    assert sub.stats().failed == 1
    assert any("flaky" in r.getMessage() for r in caplog.records)
    await bus.close()


async def test_close_stops_delivery() -> None:
    bus = EventBus()
    seen: list[int] = []

    async def handler(event: Ping) -> None:
        seen.append(event.n)

    sub = bus.subscribe(Ping, handler)
    await sub.close()
    bus.publish(Ping(1))
    assert bus.stats() == []
    assert seen == []


async def test_backlog_counts_only_subscribers_that_pace_publishers() -> None:
    bus = EventBus()
    release = asyncio.Event()

    async def slow(_event: Ping) -> None:
        await release.wait()

    async def optional(_event: Ping) -> None:
        await asyncio.Event().wait()  # never finishes: its queue grows, but it paces nobody

    bus.subscribe(Ping, optional, name="optional")
    assert bus.backlog() == 0
    pacer = bus.subscribe(Ping, slow, name="tracker", paces_publishers=True)
    for n in range(5):
        bus.publish(Ping(n))
    await asyncio.sleep(0)
    assert bus.backlog() == 4  # one is in the handler
    release.set()
    await pacer.join()
    assert bus.backlog() == 0
    await pacer.close()
    bus.publish(Ping(9))
    assert bus.backlog() == 0  # a closed pacer no longer counts
    await bus.close()
