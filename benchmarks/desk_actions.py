"""Call control latency: the desk's button (its HTTP request) -> Asterisk's confirming event.

The whole server runs in this process (``start_server``: tracker, agent desk, recordings) with
the real aiohttp console on a TCP port, on the shared Asterisk sandbox (needs root; the
sandbox is started if it is not running, and left running). Four agent users log in through
the console's login form and sign in at the desk (``Local/<ext>@sim-agents`` phones, which
answer by themselves). For each of ``--calls`` simulated callers, in the quietest queue:

1. the first agent of a pair answers; **hold** (``POST /api/v1/desk/call/hold``) until the
   caller's ``MusicOnHoldStart``; **resume** until their ``MusicOnHoldStop``;
2. **transfer** to the queue until Asterisk's ``BlindTransfer``; the second agent of the
   pair answers (the only one ready);
3. the second agent presses **hang up** until the caller's ``Hangup``.

The pairs take turns, so no phone is rung during the queue's wrap-up time. The clock starts
just before the request is written and stops when the event reaches a bus subscriber in this
process. The same-run baseline is the bare AMI round trip (``Ping``) sent at each step.
Calls answered by another test session's agent (the sandbox is shared) are skipped and
counted.

Run (as root): ``.venv/bin/python -m benchmarks.desk_actions [--calls 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from benchmarks._common import Figure, percentile, print_figures
from callcenter.agents.notifier import AgentStateChanged
from callcenter.ami.events import AmiEvent, AmiResynced
from callcenter.asterisk import const
from callcenter.asterisk.sandbox import AsteriskSandbox
from callcenter.bus import EventBus
from callcenter.errors import CallcenterError
from callcenter.server.root import Server, start_server
from callcenter.settings import AgentsSettings, AgiSettings, Settings
from hcrm_core.actors import Actor
from hcrm_core.models import Role
from hcrm_core.services.users import create_user, set_extension
from web_console.app import create_app

PASSWORD = "correct-horse-battery"
WAIT = 30.0
ACTIONS = ("hold", "resume", "transfer", "hangup")
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Waiter:
    """Wait for the next bus item matching a predicate (registered before the action)."""

    def __init__(self, bus: EventBus) -> None:
        self._pending: list[tuple[Callable[[object], bool], asyncio.Future[float]]] = []
        bus.subscribe(object, self._on_item, name="bench-waiter", maxsize=1_000_000)

    async def _on_item(self, item: object) -> None:
        now = time.perf_counter()
        for entry in list(self._pending):
            match, future = entry
            if not future.done() and match(item):
                future.set_result(now)
                self._pending.remove(entry)

    def expect(self, match: Callable[[object], bool]) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._pending.append((match, future))
        return future


def _settings(data_dir: Path) -> Settings:
    from tests.support.asterisk_sandbox import sandbox_test_settings

    settings = sandbox_test_settings(data_dir)
    return settings.model_copy(
        update={
            "agi": AgiSettings(port=0),
            # Call control is measured, not wrap-up: the robot agents save no disposition, so
            # they go back to the queue on its wrap-up timer instead of staying held.
            "agents": AgentsSettings(
                interface=f"Local/{{extension}}@{const.CONTEXT_SIM_AGENTS}",
                wrapup_until_disposition=False,
            ),
            "hospital": settings.hospital.model_copy(update={"caller_id_number": "+12125550100"}),
        }
    )


async def _session(base: str, username: str) -> tuple[aiohttp.ClientSession, str]:
    """A logged-in console session and its CSRF token."""
    # unsafe: the console is on 127.0.0.1, and a default jar keeps no cookies for an IP host.
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    form = await (await http.get(f"{base}/login")).text()
    token = _LOGIN_CSRF.search(form)
    assert token, "login form without its CSRF token"
    await http.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    page = await (await http.get(f"{base}/desk")).text()
    csrf = _META.search(page)
    assert csrf, f"{username}: not logged in"
    return http, csrf.group(1)


async def _post(
    http: aiohttp.ClientSession, csrf: str, url: str, body: dict[str, str] | None = None
) -> None:
    async with http.post(url, json=body or {}, headers={"X-CSRF-Token": csrf}) as answer:
        if answer.status >= 400:
            raise RuntimeError(f"{url}: {answer.status} {await answer.text()}")


async def _timed(
    waiter: Waiter,
    match: Callable[[object], bool],
    http: aiohttp.ClientSession,
    csrf: str,
    url: str,
    body: dict[str, str] | None = None,
) -> float:
    confirmed = waiter.expect(match)
    started = time.perf_counter()
    await _post(http, csrf, url, body)
    async with asyncio.timeout(WAIT):
        return (await confirmed - started) * 1000


def _ami(name: str, linkedid: str, **headers: str) -> Callable[[object], bool]:
    def match(item: object) -> bool:
        return (
            isinstance(item, AmiEvent)
            and item.name == name
            and item.linkedid == linkedid
            and all(item.get(k) == v for k, v in headers.items())
        )

    return match


def _on_call(username: str, linkedid: str) -> Callable[[object], bool]:
    return lambda item: (
        isinstance(item, AgentStateChanged)
        and item.username == username
        and item.agent["state"] == "on_call"
        and item.agent["linkedid"] == linkedid
    )


async def _one_call(
    server: Server,
    waiter: Waiter,
    base: str,
    first: str,
    second: str,
    sessions: dict[str, tuple[aiohttp.ClientSession, str]],
    samples: dict[str, list[float]],
) -> bool:
    agents = server.desk.agents
    for name in (first, second):
        if agents.require(name).paused is False:
            await agents.pause(name, "break")
    await agents.resume(first)
    from tests.support.desk import quietest_queue

    queue = await quietest_queue(server)
    linkedid = f"bench-{uuid.uuid4().hex[:16]}"
    answered = waiter.expect(_on_call(first, linkedid))
    await server.ami.originate(
        f"Local/s@{const.CONTEXT_SIM_PATIENT}",
        context=const.CONTEXT_QUEUES,
        exten=queue,
        caller_id='"Bench" <+12125550111>',
        channel_id=linkedid,
        variables={"SIM_HOLD": "60", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": "60"},
    )
    try:
        async with asyncio.timeout(WAIT):
            await answered
    except TimeoutError:
        return False  # another session's agent took it
    await agents.pause(first, "break")
    call = f"{base}/api/v1/desk/call"
    http, csrf = sessions[first]
    samples["hold"].append(
        await _timed(waiter, _ami("MusicOnHoldStart", linkedid), http, csrf, f"{call}/hold")
    )
    samples["resume"].append(
        await _timed(waiter, _ami("MusicOnHoldStop", linkedid), http, csrf, f"{call}/resume")
    )
    await agents.resume(second)
    taken = waiter.expect(_on_call(second, linkedid))
    samples["transfer"].append(
        await _timed(
            waiter,
            _ami("BlindTransfer", linkedid),
            http,
            csrf,
            f"{call}/transfer",
            {"kind": "queue", "target": queue},
        )
    )
    try:
        async with asyncio.timeout(WAIT):
            await taken
    except TimeoutError:
        return False
    http, csrf = sessions[second]
    samples["hangup"].append(
        await _timed(
            waiter, _ami("Hangup", linkedid, Uniqueid=linkedid), http, csrf, f"{call}/hangup"
        )
    )
    for name in (first, second):
        agents.wrap_up_done(name, linkedid)
        server.desk.pops.dismiss(name, linkedid)
    return True


async def run(calls: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench_desk_") as scratch:
        settings = _settings(Path(scratch))
        sandbox = AsteriskSandbox(settings)
        await asyncio.to_thread(sandbox.start)
        server = await start_server(settings, serve_console=False)
        waiter = Waiter(server.bus)
        resynced = waiter.expect(lambda item: isinstance(item, AmiResynced))
        runner = web.AppRunner(create_app(server.console_deps()), access_log=None)
        sessions: dict[str, tuple[aiohttp.ClientSession, str]] = {}
        names = ("alice", "bob", "carol", "dave")
        try:
            await server.ami.wait_ready(WAIT)
            async with asyncio.timeout(WAIT):
                await resynced
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            base = f"http://{host}:{port}"
            for name in names:
                async with server.database.transaction() as session:
                    user = await create_user(
                        session, username=name, password=PASSWORD, role=Role.AGENT
                    )
                extension = f"1{random.randint(100, 999)}"
                await set_extension(server.database, user.id, extension, Actor.system())
                sessions[name] = await _session(base, name)
                http, csrf = sessions[name]
                await _post(http, csrf, f"{base}/api/v1/desk/sign-in", {})
                await server.desk.agents.pause(name, "break")
            samples: dict[str, list[float]] = {action: [] for action in ACTIONS}
            pings: list[float] = []
            skipped = 0
            for n in range(calls):
                first, second = (names[0], names[1]) if n % 2 == 0 else (names[2], names[3])
                try:
                    done = await _one_call(server, waiter, base, first, second, sessions, samples)
                    started = time.perf_counter()
                    await server.ami.ping()
                    pings.append((time.perf_counter() - started) * 1000)
                except (CallcenterError, RuntimeError, TimeoutError) as exc:
                    # The sandbox is shared: another session's fault test may restart it.
                    print(f"  call {n + 1}: {exc}; waiting for Asterisk", flush=True)
                    done = False
                    await server.ami.wait_ready(600)
                    await asyncio.sleep(3)  # the desk restores the agents after the resync
                skipped += 0 if done else 1
                print(f"  call {n + 1}/{calls} ({skipped} skipped)", flush=True)
            _report(samples, pings, calls, skipped)
        finally:
            for http, _ in sessions.values():
                await http.close()
            await runner.cleanup()
            for status in server.desk.agents.agents():
                with contextlib.suppress(CallcenterError):
                    await server.desk.agents.sign_out(status.username)
            await server.stop()


def _report(samples: dict[str, list[float]], pings: list[float], calls: int, skipped: int) -> None:
    base50, base99 = percentile(pings, 50), percentile(pings, 99)
    figures: list[Figure] = []
    for action in ACTIONS:
        values = samples[action]
        p50, p99 = percentile(values, 50), percentile(values, 99)
        figures.append(
            Figure(
                "sandbox",
                f"{action} p50 ms (n={len(values)})",
                f"{p50:.1f}",
                f"{base50:.2f}",
                f"{p50 / base50:.0f}x",
            )
        )
        figures.append(
            Figure(
                "sandbox",
                f"{action} p99 ms (n={len(values)})",
                f"{p99:.1f}",
                f"{base99:.2f}",
                f"{p99 / base99:.0f}x",
            )
        )
    print_figures(
        f"Desk call control, button -> Asterisk's event ({calls} calls, {skipped} skipped; "
        "baseline: AMI Ping round trip)",
        figures,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.calls))


if __name__ == "__main__":
    main()
