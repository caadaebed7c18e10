"""Two real ``callcenter serve`` processes on one database, as behind a load balancer.

On PostgreSQL they share console sessions and login throttles: a login on A works on B, a
logout on A ends the session on B (its requests and its open websocket), and failures on A
count on B. On SQLite the second process is refused, with a message naming the database and
PostgreSQL. No PBX: the console serves while the AMI bridge keeps trying to connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hcrm_core.db import Database
from hcrm_core.models import Role
from hcrm_core.services.users import create_user
from tests.support.console import closed_port
from tests.support.outbound_server import ServerProcess, free_port
from web_console.ws import CLOSE_SESSION_ENDED, SESSION_CHECK_SECONDS

PASSWORD = "correct-horse-battery"
START_WAIT = 60.0
# The other process's periodic websocket check, plus the close handshake.
WS_END_WAIT = SESSION_CHECK_SECONDS + 5.0
_LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_PAGE_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _start(name: str, tmp: Path, database_url: str) -> tuple[ServerProcess, str]:
    data_dir = tmp / name
    data_dir.mkdir()
    web_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(
        {
            "CALLCENTER_DATA_DIR": str(data_dir),
            "CALLCENTER_DATABASE__URL": database_url,
            "CALLCENTER_AMI__PORT": str(closed_port()),  # no PBX
            "CALLCENTER_AMI__SECRET": "not-used",
            "CALLCENTER_AGI__PORT": str(free_port()),
            "CALLCENTER_WEB__PORT": str(web_port),
            "CALLCENTER_LOG_LEVEL": "INFO",
        }
    )
    process = ServerProcess(env, tmp / f"{name}.log")
    process.start()
    return process, f"http://127.0.0.1:{web_port}"


async def _wait_serving(process: ServerProcess, base: str) -> None:
    """Until the console answers its login page; fails with the log if it exits or hangs."""
    try:
        async with asyncio.timeout(START_WAIT), aiohttp.ClientSession() as client:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with client.get(f"{base}/login") as answer:
                        if answer.status == 200:
                            return
                assert process.process is not None
                if process.process.poll() is not None:
                    raise AssertionError(f"server exited:\n{process.log()[-3000:]}")
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"not serving in {START_WAIT} s:\n{process.log()[-3000:]}") from None


@contextlib.asynccontextmanager
async def _two_processes(tmp: Path, database_url: str) -> AsyncIterator[tuple[str, str]]:
    (a, a_base), (b, b_base) = _start("a", tmp, database_url), _start("b", tmp, database_url)
    try:
        await asyncio.gather(_wait_serving(a, a_base), _wait_serving(b, b_base))
        yield a_base, b_base
    finally:
        for process in (a, b):
            process.terminate()


async def _login(client: aiohttp.ClientSession, base: str, username: str, password: str) -> int:
    async with client.get(f"{base}/login") as page:
        found = _LOGIN_CSRF.search(await page.text())
    assert found, "no CSRF field on the login page"
    form = {"username": username, "password": password, "csrf_token": found.group(1)}
    async with client.post(f"{base}/login", data=form, allow_redirects=False) as answer:
        return answer.status


async def _status(client: aiohttp.ClientSession, url: str) -> int:
    async with client.get(url) as answer:
        return answer.status


async def _closed_with(socket: aiohttp.ClientWebSocketResponse) -> int | None:
    try:
        async with asyncio.timeout(WS_END_WAIT):
            while True:
                message = await socket.receive()
                if message.type is aiohttp.WSMsgType.CLOSE:
                    return int(message.data)
                if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return socket.close_code
    except TimeoutError:
        raise AssertionError(f"the websocket stayed open {WS_END_WAIT} s after logout") from None


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_session_made_on_one_process_works_and_ends_on_the_other(
    database: Database, tmp_path: Path
) -> None:
    async with database.transaction() as session:
        await create_user(session, username="alice", password=PASSWORD, role=Role.AGENT)
    async with (
        _two_processes(tmp_path, database.url) as (a, b),
        # One browser, one cookie jar: cookies are per host, not per port, as behind one name.
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client,
    ):
        assert await _login(client, a, "alice", PASSWORD) == 302
        assert await _status(client, f"{b}/api/v1/patients?q=grace") == 200
        async with client.get(f"{b}/") as home:
            token = _PAGE_CSRF.search(await home.text())
        assert token, "no CSRF token on B's page"
        socket = await client.ws_connect(f"{b}/ws")
        try:
            async with client.post(
                f"{a}/logout", data={"csrf_token": token.group(1)}, allow_redirects=False
            ) as out:
                assert out.status == 302
            assert await _closed_with(socket) == CLOSE_SESSION_ENDED
        finally:
            await socket.close()
        # The logout cleared the cookie: present the old one, as a stolen copy would.
        client.cookie_jar.clear()
        assert await _login(client, b, "alice", PASSWORD) == 302
        stolen = next(c.value for c in client.cookie_jar if c.key == "cc_session")
        async with client.get(f"{b}/") as home:
            token = _PAGE_CSRF.search(await home.text())
        assert token
        async with client.post(
            f"{b}/logout", data={"csrf_token": token.group(1)}, allow_redirects=False
        ) as out:
            assert out.status == 302
        client.cookie_jar.update_cookies({"cc_session": stolen})
        assert await _status(client, f"{a}/api/v1/patients?q=grace") == 401
        # The login throttle counts on both: of four wrong passwords at once, two on each
        # process, three are checked and the fourth waits (each process alone would let its
        # two through).
        tries = [_login(client, base, "alice", "wrong-password-123") for base in (a, b, a, b)]
        assert Counter(await asyncio.gather(*tries)) == {401: 3, 429: 1}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_second_process_on_one_sqlite_database_is_refused(
    database: Database, tmp_path: Path
) -> None:
    first, first_base = _start("a", tmp_path, database.url)
    try:
        await _wait_serving(first, first_base)
        second, _ = _start("b", tmp_path, database.url)
        assert second.process is not None
        assert second.process.wait(timeout=START_WAIT) == 1
        refusal = second.log()
        assert "already serves the SQLite database" in refusal, refusal[-2000:]
        assert str(tmp_path / "test.sqlite3") in refusal  # the database fixture's file
        assert "use PostgreSQL" in refusal
        assert await _status_of(first_base) == 200  # the first one serves on
    finally:
        first.terminate()


async def _status_of(base: str) -> int:
    async with aiohttp.ClientSession() as client:
        return await _status(client, f"{base}/login")
