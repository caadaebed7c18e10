"""Call control latency: the desk's button (its HTTP request) -> Asterisk's confirmation.

The whole server runs in this process (``start_server``: tracker, agent desk, recordings) with
the real aiohttp console on a TCP port, on the shared Asterisk sandbox (needs root; the
sandbox is started if it is not running, and left running). Eight robot agent users
(``bench-desk-1`` ... ``-8``, four pairs) log in through the console's login form and sign
in at the desk (``Local/<ext>@sim-agents`` phones, which answer by themselves). For each
simulated caller, in the quietest queue, recorded on demand:

1. the first agent of a pair answers; **hold** (``POST /api/v1/desk/call/hold``) until the
   caller's ``MusicOnHoldStart``; **resume** until their ``BridgeEnter``; **record
   start** (``recording/resume``: an on-demand recording starts) and **record pause**
   (``recording/pause``) until the API answers: Asterisk sends no event for
   ``MixMonitorMute``, its ``Success`` response is the confirmation;
2. **transfer** to the queue until Asterisk's ``BlindTransfer``; the second agent of the
   pair answers (the only one ready);
3. the second agent presses **hang up** until the caller's ``Hangup``, or (every other call,
   whichever has fewer samples) **conference** with an outside number until the caller's
   ``ConfbridgeJoin``; the benchmark then hangs up what is left of that call.

Calls go on until every action has ``--samples`` samples (at most ``6 x --samples`` calls).
The pairs take turns, so no phone is rung during the queue's wrap-up time. The clock starts
just before the request is written and stops when the event reaches a bus subscriber in this
process (or the response arrives). The same-run baseline is the bare AMI round trip (``Ping``)
sent after each call. Calls answered by another session's agent (the sandbox is shared) are
skipped and counted.

The robot agents are queue members in Asterisk while the run lasts: they are removed on any
exit (an exception, Ctrl-C, SIGTERM), and a run first removes the ones a killed run (SIGKILL)
left behind, which would otherwise take the calls.

Run (as root): ``.venv/bin/python -m benchmarks.desk_actions [--samples 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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
ACTIONS = (
    "hold",
    "resume",
    "record_start",
    "record_pause",
    "transfer",
    "hangup",
    "conference",
)
# The robot agents' logins, and so their queue members' names in Asterisk.
ROBOT_PREFIX = "bench-desk-"
# Four pairs taking turns: a robot's last call ended a few calls ago, so the queue's wrap-up
# time (10 s) is over before it is rung again.
ROBOTS = tuple(f"{ROBOT_PREFIX}{n}" for n in range(1, 9))
CONFERENCE_NUMBER = "+12125550123"
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

Session = tuple[aiohttp.ClientSession, str]


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


@dataclass
class Bench:
    server: Server
    sandbox: AsteriskSandbox
    waiter: Waiter
    base: str
    sessions: dict[str, Session]
    samples: dict[str, list[float]]

    @property
    def call_url(self) -> str:
        return f"{self.base}/api/v1/desk/call"


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


async def remove_robot_members(server: Server) -> int:
    """Remove every queue member named like a robot agent of this benchmark; how many."""
    removed = 0
    for row in await server.ami.queue_status():
        name = row.get("Name") or row.get("MemberName")
        if row.name != "QueueMember" or not name.startswith(ROBOT_PREFIX):
            continue
        interface = row.get("Location") or row.get("Interface")
        with contextlib.suppress(CallcenterError):
            await server.ami.send_action(
                {"Action": "QueueRemove", "Queue": row.get("Queue"), "Interface": interface}
            )
            removed += 1
    return removed


async def _session(base: str, username: str) -> Session:
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


async def _post(session: Session, url: str, body: dict[str, str] | None = None) -> None:
    http, csrf = session
    async with http.post(url, json=body or {}, headers={"X-CSRF-Token": csrf}) as answer:
        if answer.status >= 400:
            raise RuntimeError(f"{url}: {answer.status} {await answer.text()}")


async def _timed(
    bench: Bench,
    action: str,
    match: Callable[[object], bool] | None,
    session: Session,
    url: str,
    body: dict[str, str] | None = None,
) -> None:
    """One sample of ``action``: to the matching bus item, or (None) to the API's answer."""
    confirmed = bench.waiter.expect(match) if match is not None else None
    started = time.perf_counter()
    await _post(session, url, body)
    answered = time.perf_counter()
    if confirmed is not None:
        try:
            async with asyncio.timeout(WAIT):
                answered = await confirmed
        except TimeoutError:
            raise RuntimeError(f"{action}: Asterisk confirmed nothing in {WAIT:.0f} s") from None
    bench.samples[action].append((answered - started) * 1000)


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


async def _reached(future: asyncio.Future[float]) -> bool:
    try:
        async with asyncio.timeout(WAIT):
            await future
    except TimeoutError:
        return False
    return True


async def _answered_call(bench: Bench, first: str) -> tuple[str, str] | None:
    """A caller in the quietest queue answered by ``first``: (Linkedid, queue), or None when
    another session's agent took it."""
    from tests.support.desk import quietest_queue

    agents = bench.server.desk.agents
    # Only ``first`` may be rung: a robot of another pair is back in the queues after its
    # wrap-up, and would take the call.
    for name in ROBOTS:
        if name != first and agents.require(name).paused is False:
            await agents.pause(name, "break")
    await agents.resume(first)
    queue = await quietest_queue(bench.server)
    linkedid = f"bench-{uuid.uuid4().hex[:16]}"
    answered = bench.waiter.expect(_on_call(first, linkedid))
    await bench.server.ami.originate(
        f"Local/s@{const.CONTEXT_SIM_PATIENT}",
        context=const.CONTEXT_QUEUES,
        exten=queue,
        caller_id='"Bench" <+12125550111>',
        channel_id=linkedid,
        variables={
            "SIM_HOLD": "60",
            "__SIM_AGENT_RING": "1",
            "__SIM_AGENT_TALK": "60",
            "CALLCENTER_RECORD": "on_demand",
        },
    )
    if not await _reached(answered):
        print(f"  {linkedid}: not answered by {first} in {WAIT:.0f} s", flush=True)
        return None
    await agents.pause(first, "break")
    return linkedid, queue


async def _recording_armed(bench: Bench, username: str) -> None:
    """Until the on-demand recording is known to the desk (once the call row exists)."""
    control = bench.server.desk.call_control
    state = None
    try:
        async with asyncio.timeout(WAIT):
            while state is None:  # no bus message says so: ask again
                state = await control.recording_state(username)
                await asyncio.sleep(0 if state else 0.05)
    except TimeoutError:
        raise RuntimeError(f"no on-demand recording in {WAIT:.0f} s") from None


async def _first_agent(bench: Bench, first: str, linkedid: str) -> None:
    session, url = bench.sessions[first], bench.call_url
    await _timed(bench, "hold", _ami("MusicOnHoldStart", linkedid), session, f"{url}/hold")
    # The caller is added to the resume's bridge last: its BridgeEnter is the bridge complete.
    # (Not MusicOnHoldStop: Asterisk may send it for the masquerade's leftover channel, under
    # another Linkedid, and the resume was then never seen confirmed.)
    bridged = _ami("BridgeEnter", linkedid, Context=const.CONTEXT_HOLD, Exten="caller")
    await _timed(bench, "resume", bridged, session, f"{url}/resume")
    await _recording_armed(bench, first)
    await _timed(bench, "record_start", None, session, f"{url}/recording/resume")
    await _timed(bench, "record_pause", None, session, f"{url}/recording/pause")


async def _second_agent(bench: Bench, second: str, linkedid: str) -> None:
    session, url = bench.sessions[second], bench.call_url
    if len(bench.samples["hangup"]) <= len(bench.samples["conference"]):
        caller_gone = _ami("Hangup", linkedid, Uniqueid=linkedid)
        await _timed(bench, "hangup", caller_gone, session, f"{url}/hangup")
        return
    # The caller (its Uniqueid is the Linkedid) entering the room is Asterisk's confirmation;
    # the outside number may ring on: what is left of the call is hung up afterwards.
    joined = _ami("ConfbridgeJoin", linkedid, Uniqueid=linkedid)
    body = {"kind": "number", "target": CONFERENCE_NUMBER}
    await _timed(bench, "conference", joined, session, f"{url}/conference", body)
    await _hang_up_call(bench.server, linkedid)


async def _hang_up_call(server: Server, linkedid: str) -> None:
    for row in await server.ami.core_show_channels():
        if row.get("Linkedid") == linkedid:
            with contextlib.suppress(CallcenterError):
                await server.ami.send_action({"Action": "Hangup", "Channel": row.channel})


async def _one_call(bench: Bench, first: str, second: str) -> bool:
    call = await _answered_call(bench, first)
    if call is None:
        return False  # another session's agent took it
    linkedid, queue = call
    agents = bench.server.desk.agents
    try:
        await _first_agent(bench, first, linkedid)
        await agents.resume(second)
        taken = bench.waiter.expect(_on_call(second, linkedid))
        await _timed(
            bench,
            "transfer",
            _ami("BlindTransfer", linkedid),
            bench.sessions[first],
            f"{bench.call_url}/transfer",
            {"kind": "queue", "target": queue},
        )
        if not await _reached(taken):
            return False
        await _second_agent(bench, second, linkedid)
    finally:
        await _hang_up_call(bench.server, linkedid)
        for name in (first, second):
            agents.wrap_up_done(name, linkedid)
            bench.server.desk.pops.dismiss(name, linkedid)
    return True


async def _sign_in_robots(server: Server, base: str) -> dict[str, Session]:
    from tests.support.rig import agent_extension

    sessions: dict[str, Session] = {}
    for name in ROBOTS:
        async with server.database.transaction() as session:
            user = await create_user(session, username=name, password=PASSWORD, role=Role.AGENT)
        await set_extension(server.database, user.id, agent_extension(1), Actor.system())
        sessions[name] = await _session(base, name)
        await _post(sessions[name], f"{base}/api/v1/desk/sign-in", {})
        await server.desk.agents.pause(name, "break")
    return sessions


async def _measure(bench: Bench, wanted: int) -> tuple[list[float], int, int]:
    """Calls until every action has ``wanted`` samples; (pings, calls, skipped)."""
    pings: list[float] = []
    calls = skipped = 0
    while min(len(v) for v in bench.samples.values()) < wanted and calls < 6 * wanted:
        pair = 2 * (calls % (len(ROBOTS) // 2))
        first, second = ROBOTS[pair : pair + 2]
        calls += 1
        began = time.perf_counter()
        try:
            done = await _one_call(bench, first, second)
            started = time.perf_counter()
            await bench.server.ami.ping()
            pings.append((time.perf_counter() - started) * 1000)
        except (CallcenterError, RuntimeError, TimeoutError) as exc:
            print(f"  call {calls}: {exc!r}", flush=True)
            done = False
            await _recover(bench)
        skipped += 0 if done else 1
        least = min(len(v) for v in bench.samples.values())
        took = time.perf_counter() - began
        print(f"  call {calls} ({took:.1f} s, {skipped} skipped): {least}/{wanted} of each")
    return pings, calls, skipped


async def _recover(bench: Bench) -> None:
    """Asterisk back before the next call. The sandbox is shared: another session's fault
    test or demo may stop it; started again (as a test's fixture would) when it stays down."""
    await asyncio.sleep(5)  # one shutting down still answers (with refusals) for a moment
    try:
        await bench.server.ami.wait_ready(20)
    except TimeoutError:
        print("  Asterisk stays down: starting the sandbox", flush=True)
        await asyncio.to_thread(bench.sandbox.start)
        await bench.server.ami.wait_ready(120)
    await asyncio.sleep(3)  # the desk adds its agents again after the resync
    for name in ROBOTS:  # paused in Asterisk as at the desk, whatever the restart did
        with contextlib.suppress(CallcenterError):
            await bench.server.desk.agents.pause(name, "break")


async def _serve(server: Server) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(create_app(server.console_deps()), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def run(wanted: int) -> None:
    # SIGTERM (and Ctrl-C, which asyncio turns into a cancellation) unwinds through the
    # finally below, which takes the robot agents out of Asterisk's queues.
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    with tempfile.TemporaryDirectory(prefix="bench_desk_") as scratch:
        settings = _settings(Path(scratch))
        sandbox = AsteriskSandbox(settings)
        await asyncio.to_thread(sandbox.start)
        server = await start_server(settings, serve_console=False)
        waiter = Waiter(server.bus)
        resynced = waiter.expect(lambda item: isinstance(item, AmiResynced))
        runner: web.AppRunner | None = None
        sessions: dict[str, Session] = {}
        try:
            await server.ami.wait_ready(WAIT)
            async with asyncio.timeout(WAIT):
                await resynced
            stale = await remove_robot_members(server)
            print(f"  {stale} queue members of an earlier run removed", flush=True)
            runner, base = await _serve(server)
            sessions = await _sign_in_robots(server, base)
            bench = Bench(server, sandbox, waiter, base, sessions, {a: [] for a in ACTIONS})
            pings, calls, skipped = await _measure(bench, wanted)
            _report(bench.samples, pings, calls, skipped)
        finally:
            for http, _ in sessions.values():
                await http.close()
            if runner is not None:
                await runner.cleanup()
            for status in server.desk.agents.agents():
                with contextlib.suppress(CallcenterError):
                    await server.desk.agents.sign_out(status.username)
            with contextlib.suppress(CallcenterError):
                await remove_robot_members(server)  # whatever a failed sign-out left
            await server.stop()


def _report(samples: dict[str, list[float]], pings: list[float], calls: int, skipped: int) -> None:
    base50, base99 = percentile(pings, 50), percentile(pings, 99)
    figures: list[Figure] = []
    for action in ACTIONS:
        values = samples[action]
        for q, base in ((50, base50), (99, base99)):
            value = percentile(values, q)
            figures.append(
                Figure(
                    "sandbox",
                    f"{action} p{q} ms (n={len(values)})",
                    f"{value:.1f}",
                    f"{base:.2f}",
                    f"{value / base:.0f}x",
                )
            )
    print_figures(
        f"Desk call control, button -> Asterisk's confirmation ({calls} calls, {skipped} "
        f"skipped; baseline: AMI Ping round trip, n={len(pings)})",
        figures,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=50, help="samples of each action")
    args = parser.parse_args()
    try:
        asyncio.run(run(args.samples))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("stopped before the end: the robot agents were taken out of the queues")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
