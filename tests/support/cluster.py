"""Several real ``callcenter serve`` processes on one PostgreSQL database and the sandbox.

Each process gets its own data directory, console port and FastAGI port (as two machines
behind a load balancer would); the test talks to each console over HTTP and its websocket as
a browser does (the login form, the CSRF token of the page, the session cookie).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.desk import HOSPITAL_CID, SIM_INTERFACE
from tests.support.outbound_server import ServerProcess, free_port

START_WAIT = 60.0
_LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_PAGE_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
SESSION_COOKIE = "cc_session"


@dataclass
class Node:
    """One server process: its ports and its log."""

    name: str
    process: ServerProcess
    web_port: int
    agi_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def agi_url(self) -> str:
        return f"agi://127.0.0.1:{self.agi_port}"


def node_env(box: AsteriskSandboxHandle, data_dir: Path, database_url: str) -> dict[str, str]:
    """``callcenter serve`` on the sandbox, like tests/support/desk.py's in-process server."""
    env = {
        "CALLCENTER_DATA_DIR": str(data_dir),
        "CALLCENTER_DATABASE__URL": database_url,
        "CALLCENTER_AMI__HOST": box.ami_host,
        "CALLCENTER_AMI__PORT": str(box.ami_port),
        "CALLCENTER_AMI__USERNAME": box.ami_username,
        "CALLCENTER_AMI__SECRET": box.ami_secret,
        "CALLCENTER_AGI__PORT": str(free_port()),
        "CALLCENTER_WEB__PORT": str(free_port()),
        "CALLCENTER_AGENTS__INTERFACE": SIM_INTERFACE,
        "CALLCENTER_HOSPITAL__CALLER_ID_NUMBER": HOSPITAL_CID,
        "CALLCENTER_ASTERISK__SANDBOX_DIR": str(box.settings.asterisk.sandbox_dir),
        "CALLCENTER_LOG_LEVEL": "INFO",
    }
    recordings = box.settings.asterisk.recordings_local_path
    if recordings is not None:
        env["CALLCENTER_ASTERISK__RECORDINGS_LOCAL_PATH"] = str(recordings)
    return env


def start_node(
    name: str, box: AsteriskSandboxHandle, tmp: Path, database_url: str, base_env: dict[str, str]
) -> Node:
    data_dir = tmp / name
    data_dir.mkdir()
    env = {k: v for k, v in base_env.items() if not k.startswith("CALLCENTER_")}
    env.update(node_env(box, data_dir, database_url))
    process = ServerProcess(env, tmp / f"{name}.log")
    process.start()
    return Node(name, process, int(env["CALLCENTER_WEB__PORT"]), int(env["CALLCENTER_AGI__PORT"]))


async def wait_ready(node: Node, timeout: float = START_WAIT) -> None:  # noqa: ASYNC109
    """Until the console answers ``/healthz`` with the AMI link and FastAGI up."""
    last: object = None
    try:
        async with asyncio.timeout(timeout), aiohttp.ClientSession() as client:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with client.get(f"{node.base}/healthz") as answer:
                        last = await answer.json()
                        parts = last.get("parts", {}) if isinstance(last, dict) else {}
                        if parts.get("ami") == "ok" and parts.get("agi") == "ok":
                            return
                assert node.process.process is not None
                if node.process.process.poll() is not None:
                    raise AssertionError(f"{node.name} exited:\n{node.process.log()[-3000:]}")
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(
            f"{node.name} not ready in {timeout} s (last /healthz: {last}):\n"
            f"{node.process.log()[-3000:]}"
        ) from None


@dataclass
class Browser:
    """One user's browser on one process: the session cookie and the page's CSRF token."""

    client: aiohttp.ClientSession
    base: str
    csrf: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf}
        async with self.client.post(f"{self.base}{path}", json=body, headers=headers) as answer:
            return answer.status, await answer.json(content_type=None)

    async def text(self, path: str) -> str:
        async with self.client.get(f"{self.base}{path}") as answer:
            assert answer.status == 200, f"GET {path}: {answer.status}"
            return await answer.text()

    async def listen(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        async for message in socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            self.messages.append(json.loads(message.data))
            self._changed.set()

    async def wait_for(
        self,
        matches: Callable[[dict[str, Any]], bool],
        what: str,
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for message in self.messages:
                        if matches(message):
                            return message
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            kinds = [m.get("type") for m in self.messages]
            raise AssertionError(f"no {what} within {timeout} s; messages: {kinds}") from None


@contextlib.asynccontextmanager
async def browser(base: str, username: str, password: str) -> AsyncIterator[Browser]:
    """Logged in through the form, holding ``/ws`` open (its messages in ``messages``)."""
    # unsafe: keep cookies of a bare IP address (the console on 127.0.0.1).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{base}/login") as page:
            found = _LOGIN_CSRF.search(await page.text())
        assert found, "no CSRF field on the login page"
        form = {"username": username, "password": password, "csrf_token": found.group(1)}
        async with client.post(f"{base}/login", data=form, allow_redirects=False) as answer:
            assert answer.status == 302, f"login of {username} refused ({answer.status})"
        async with client.get(f"{base}/") as home:
            token = _PAGE_CSRF.search(await home.text())
        assert token, "no CSRF token on the home page"
        user = Browser(client, base, token.group(1))
        socket = await client.ws_connect(f"{base}/ws")
        listener = asyncio.create_task(user.listen(socket))
        try:
            yield user
        finally:
            await socket.close()
            await asyncio.gather(listener, return_exceptions=True)
