"""Login throttling against the real console: concurrent bursts, and users elsewhere."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.support.console import PASSWORD, csrf_from, forget_login_failures, login
from web_console.app import create_app
from web_console.throttle import LoginThrottle

BURST = 120
WAIT = 60  # seconds for a whole burst; argon2 runs for the few that pass


@pytest.fixture(autouse=True)
async def fresh_throttle(world) -> None:
    await forget_login_failures(world.server.database)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _burst(client: TestClient[Any, Any], usernames: list[str]) -> Counter[int]:
    token = csrf_from(await (await client.get("/login")).text())

    async def attempt(username: str) -> int:
        response = await client.post(
            "/login",
            data={"username": username, "password": "wrong-password-123", "csrf_token": token},
            allow_redirects=False,
        )
        await response.read()
        return response.status

    async with asyncio.timeout(WAIT):
        return Counter(await asyncio.gather(*(attempt(name) for name in usernames)))


async def test_a_concurrent_burst_on_one_account_checks_only_the_free_attempts(
    world, aiohttp_client
):
    clock = FakeClock()  # the 1 s delay after the third failure does not pass by itself
    throttle = LoginThrottle(
        world.server.database, free_failures=3, max_per_address=20, clock=clock
    )
    client = await aiohttp_client(
        create_app(world.server.console_deps(), clock=clock, throttle=throttle)
    )
    statuses = await _burst(client, ["sam"] * BURST)
    # Every attempt is booked before its password is checked: only three reach argon2.
    assert statuses == {401: 3, 429: BURST - 3}
    # Even the right password waits now, from this address.
    assert (await login(client, "sam")).status == 429


async def test_a_concurrent_burst_across_accounts_stops_at_the_address_limit(world, aiohttp_client):
    throttle = LoginThrottle(world.server.database, free_failures=3, max_per_address=20)
    client = await aiohttp_client(create_app(world.server.console_deps(), throttle=throttle))
    statuses = await _burst(client, [f"guess{n}" for n in range(BURST)])
    assert statuses == {401: 20, 429: BURST - 20}


async def _login_from(
    session: aiohttp.ClientSession, base: str, username: str, password: str
) -> int:
    page = await session.get(f"{base}/login")
    token = csrf_from(await page.text())
    response = await session.post(
        f"{base}/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    await response.read()
    return response.status


async def test_failures_from_an_attackers_address_do_not_lock_the_user_out(world, aiohttp_client):
    clock = FakeClock()
    client = await aiohttp_client(create_app(world.server.console_deps(), clock=clock))
    base = str(client.make_url("")).rstrip("/")
    # Linux answers on all of 127/8: the attacker connects from 127.0.0.2, a real peer address.
    attacker = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # keep cookies set by an IP address
    )
    async with attacker, asyncio.timeout(WAIT):
        statuses = [
            await _login_from(attacker, base, "ada", "wrong-password-123") for _ in range(8)
        ]
        assert statuses == [401, 401, 401] + [429] * 5
        # The real user, at her own desk (127.0.0.1), logs in at once.
        assert (await login(client, "ada")).status == 302
        # The attacker still waits, even with the right password.
        assert await _login_from(attacker, base, "ada", PASSWORD) == 429


async def test_the_delay_grows_with_each_failure_and_a_success_clears_it(world, aiohttp_client):
    clock = FakeClock()
    client = await aiohttp_client(create_app(world.server.console_deps(), clock=clock))
    for _ in range(3):
        assert (await login(client, "agent1", "wrong-password-123")).status == 401
    assert (await login(client, "agent1")).status == 429  # 1 s to wait
    assert (await login(client, "agent2")).status == 302  # another account is not affected
    clock.now += 1.5
    assert (await login(client, "agent1", "wrong-password-123")).status == 401
    clock.now += 1.5
    assert (await login(client, "agent1")).status == 429  # now 2 s
    clock.now += 1
    assert (await login(client, "agent1")).status == 302
    assert (await login(client, "agent1", "wrong-password-123")).status == 401  # counts anew
