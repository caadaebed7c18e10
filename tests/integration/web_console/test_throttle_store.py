"""Login throttling kept in the database, on SQLite and PostgreSQL: a growing delay per
(account, address), a cap per address, shared by two throttles (two processes) and exact
under concurrent attempts."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from hcrm_core.db import Database
from hcrm_core.models import LoginBackoff, LoginFailure
from web_console.throttle import LoginThrottle

START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


async def _fail(throttle: LoginThrottle, account: str, address: str) -> None:
    assert await throttle.reserve(account, address) is not None  # never succeeded: a failure


async def _rows(database: Database) -> int:
    async with database.session() as session:
        failures = await session.scalar(select(func.count()).select_from(LoginFailure))
        backoffs = await session.scalar(select(func.count()).select_from(LoginBackoff))
    return int(failures or 0) + int(backoffs or 0)


async def test_an_attempt_is_counted_when_reserved_not_when_it_ends(database: Database):
    throttle = LoginThrottle(database, free_failures=3, clock=Clock())
    attempts = [await throttle.reserve("alice", "10.0.0.1") for _ in range(3)]
    assert all(attempts)  # three in flight at once (none finished): the fourth waits
    assert await throttle.reserve("alice", "10.0.0.1") is None


async def test_the_delay_doubles_after_the_free_failures(database: Database) -> None:
    clock = Clock()
    throttle = LoginThrottle(database, free_failures=3, base_delay=1, max_delay=8, clock=clock)
    for _ in range(3):
        await _fail(throttle, "alice", "10.0.0.1")
    assert await throttle.reserve("alice", "10.0.0.1") is None
    clock.now += 1.0
    await _fail(throttle, "alice", "10.0.0.1")
    clock.now += 1.9
    assert await throttle.reserve("alice", "10.0.0.1") is None
    clock.now += 0.1
    assert await throttle.reserve("alice", "10.0.0.1") is not None


async def test_an_account_is_never_locked_from_another_address(database: Database) -> None:
    throttle = LoginThrottle(database, free_failures=3, clock=Clock())
    for _ in range(10):
        await throttle.reserve("supervisor", "203.0.113.9")
    assert await throttle.reserve("supervisor", "203.0.113.9") is None
    assert await throttle.reserve("supervisor", "10.0.0.7") is not None


async def test_an_address_is_capped_across_accounts(database: Database) -> None:
    clock = Clock()
    throttle = LoginThrottle(database, max_per_address=2, window_seconds=60, clock=clock)
    await _fail(throttle, "alice", "10.0.0.1")
    await _fail(throttle, "bob", "10.0.0.1")
    assert await throttle.reserve("carol", "10.0.0.1") is None
    assert await throttle.reserve("carol", "10.0.0.2") is not None
    clock.now += 61  # the failures slid out of the window
    assert await throttle.reserve("carol", "10.0.0.1") is not None


async def test_a_success_gives_its_reservation_back_and_clears_the_delay(database: Database):
    throttle = LoginThrottle(database, max_per_address=3, free_failures=2, clock=Clock())
    await _fail(throttle, "alice", "10.0.0.1")
    success = await throttle.reserve("alice", "10.0.0.1")
    assert success is not None
    await success.succeeded()
    # Neither the success nor the earlier failure of the pair is held against alice now,
    # but the address keeps its one failure.
    await _fail(throttle, "alice", "10.0.0.1")
    await _fail(throttle, "bob", "10.0.0.1")
    assert await throttle.reserve("dave", "10.0.0.1") is None


async def test_quiet_counts_are_forgotten_after_a_window(database: Database) -> None:
    clock = Clock()
    throttle = LoginThrottle(database, free_failures=3, window_seconds=60, clock=clock)
    for _ in range(3):
        await _fail(throttle, "alice", "a")
    for n in range(5):
        await _fail(throttle, f"user{n}", "b")
    clock.now += 62  # the 1 s delay ended and a window passed: a fresh start
    for _ in range(3):
        await _fail(throttle, "alice", "a")
    assert await throttle.reserve("alice", "a") is None
    clock.now += 62
    await throttle.forget_stale()  # guessing many usernames does not grow the tables
    assert await _rows(database) == 0


async def test_two_processes_share_one_count_under_concurrent_attempts(database: Database):
    clock = Clock()
    # Two throttles on two engines: two processes' connections.
    other = Database(database.url)
    try:
        throttles = [
            LoginThrottle(db, free_failures=3, max_per_address=20, clock=clock)
            for db in (database, other)
        ]
        one_account = await asyncio.gather(
            *(throttles[n % 2].reserve("sam", "10.0.0.9") for n in range(40))
        )
        assert sum(attempt is not None for attempt in one_account) == 3
        many = await asyncio.gather(
            *(throttles[n % 2].reserve(f"guess{n}", "10.0.0.8") for n in range(60))
        )
        assert sum(attempt is not None for attempt in many) == 20
    finally:
        await other.dispose()
