"""Screen-pop latency: ``AgentCalled`` on the AMI socket -> the pop at the agent's websocket.

The whole server runs in this process as ``callcenter serve`` runs it (``start_server``: call
tracker, agent desk, board; the real aiohttp console on a TCP port; uvloop), on a scratch
database seeded with the demo hospital. ``--agents`` agent users (200) are logged in (real
console sessions), signed in at the desk with their extensions, and each holds a websocket on
``/ws``; ``--supervisors`` supervisor sockets receive the board's pushes all along.

Asterisk is a fake AMI server in a separate process that speaks the protocol (banner, Login,
FullyBooted, the resync lists, QueueAdd answers). On command it writes one queue call's events
(``Newchannel``, ``QueueCallerJoin``, then ``AgentCalled`` for one agent's interface, stamped
with ``time.monotonic()`` just before the write: one clock for both processes on Linux), and
later ends the call (``AgentConnect``, ``AgentComplete``, ``Hangup``) so pops and the board
keep moving. Calls are placed at ``--rate`` per second, round robin over the agents.

Measured per call, from the ``AgentCalled`` stamp:

- **service**: the first ``pop`` message arriving on that agent's websocket (the ringing pop
  with caller ID and queue wait; target p99 < 100 ms), and the pop carrying the assembled
  patient card (``match`` no longer ``pending``: database lookups and an audit row);
- **baseline** (same events, same run): the ``AgentCalled`` ``AmiEvent`` reaching a bus
  subscriber, i.e. the bare AMI read, parse and publish path.

Run: ``.venv/bin/python -m benchmarks.screen_pop [--agents 200] [--calls 400] [--rate 20]
[--supervisors 5] [--engine sqlite|postgresql] [--pg-url URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from sqlalchemy import insert, select

from benchmarks._common import (
    Figure,
    default_pg_url,
    free_port,
    paced,
    percentile,
    print_figures,
    scratch_database,
)
from callcenter.ami.bridge import AmiEvent
from callcenter.asterisk import const
from callcenter.demo.callers import known_callers
from callcenter.server.root import Server, start_server
from callcenter.settings import Settings
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import Role, User
from hcrm_core.seed import seed_demo
from hcrm_core.services.users import hash_password

TARGET_P99_MS = 100.0
QUEUE = const.QUEUES[0].name
INTERFACE = "Local/{extension}@" + const.CONTEXT_SIM_AGENTS
FIRST_EXTENSION = 3000
PASSWORD = "bench-password-1234"
SESSION_COOKIE = "cc_session"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_END = b"\r\n\r\n"


# -- the fake Asterisk (its own process) -------------------------------------------------------


def _msg(**headers: str) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


def _answer(headers: dict[str, str]) -> bytes:
    action, action_id = headers.get("Action", ""), headers.get("ActionID", "")
    if action == "Login":
        return _msg(Response="Success", ActionID=action_id, Message="Authentication accepted")
    if action in ("CoreShowChannels", "QueueStatus"):
        complete = f"{action}Complete" if action == "CoreShowChannels" else "QueueStatusComplete"
        return _msg(Response="Success", ActionID=action_id, EventList="start") + _msg(
            Event=complete, ActionID=action_id, EventList="Complete", ListItems="0"
        )
    if action == "Ping":
        return _msg(Response="Success", ActionID=action_id, Ping="Pong")
    if action == "QueueAdd":
        return _msg(Response="Success", ActionID=action_id, Message="Added interface to queue")
    return _msg(Response="Success", ActionID=action_id)


def _call_events(n: int, interface: str, member: str, number: str) -> tuple[bytes, bytes]:
    """One queue call's events: up to (and without) the AgentCalled stamp; and its end."""
    linkedid = f"bench-{n:06d}"
    caller = {
        "Channel": f"Local/s@sim-patient-{n:08x};1",
        "ChannelState": "6",
        "CallerIDNum": number,
        "CallerIDName": "Bench caller",
        "Context": const.CONTEXT_INBOUND,
        "Exten": "s",
        "Uniqueid": linkedid,
        "Linkedid": linkedid,
    }
    agent = {
        "DestChannel": f"{interface}-{n:08x};1",
        "DestUniqueid": f"{linkedid}.a",
        "DestLinkedid": linkedid,
        "Queue": QUEUE,
        "Interface": interface,
        "MemberName": member,
    }
    start = _msg(Event="Newchannel", Privilege="call,all", **caller) + _msg(
        Event="QueueCallerJoin", Privilege="agent,all", Queue=QUEUE, Position="1", **caller
    )
    end = (
        _msg(Event="AgentConnect", HoldTime="1", RingTime="1", **caller, **agent)
        + _msg(Event="QueueCallerLeave", Queue=QUEUE, Position="1", **caller)
        + _msg(Event="AgentComplete", HoldTime="1", TalkTime="1", **caller, **agent)
        + _msg(Event="Hangup", Cause="16", **caller)
    )
    called = "".join(
        f"{k}: {v}\r\n"
        for k, v in {"Event": "AgentCalled", "Privilege": "agent,all", **caller, **agent}.items()
    )
    return start + called.encode(), end


async def _fake_ami(commands: Connection, port_out: Connection) -> None:
    loop = asyncio.get_running_loop()
    writers: list[asyncio.StreamWriter] = []
    pending_ends: dict[int, bytes] = {}

    def on_command() -> None:
        kind, n, interface, member, number = commands.recv()
        if kind == "call":
            head, end = _call_events(n, interface, member, number)
            pending_ends[n] = end
            data = head + f"BenchSentAt: {time.monotonic():.6f}\r\n\r\n".encode()
        else:
            data = pending_ends.pop(n, b"")
        # Every AMI session hears every call, as with Asterisk (cluster_pops.py runs several
        # server processes, each with its own session).
        for writer in writers:
            writer.write(data)

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        writers.append(writer)
        try:
            while block := await reader.readuntil(_END):
                headers = dict(
                    line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
                )
                writer.write(_answer(headers))
                if headers.get("Action") == "Login":
                    writer.write(_msg(Event="FullyBooted", Privilege="system,all", Status="OK"))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writers.remove(writer)
            writer.close()

    loop.add_reader(commands.fileno(), on_command)
    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port_out.send(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _serve(commands: Connection, port_out: Connection) -> None:
    asyncio.run(_fake_ami(commands, port_out))


@contextlib.contextmanager
def fake_asterisk() -> Iterator[tuple[int, Connection]]:
    """The fake AMI server process; yields its port and the pipe that commands it."""
    context = multiprocessing.get_context("fork")
    port_in, port_out = context.Pipe(duplex=False)
    command_in, command_out = context.Pipe(duplex=False)
    process = context.Process(target=_serve, args=(command_in, port_out), daemon=True)
    process.start()
    try:
        yield int(port_in.recv()), command_out
    finally:
        process.terminate()
        process.join(5)


# -- the measured side -------------------------------------------------------------------------


@dataclass
class PopTimings:
    """When each call's pops arrived (``time.monotonic()``), by Linkedid."""

    sent: dict[str, float] = field(default_factory=dict)  # the queue rang the agent
    first_pop: dict[str, float] = field(default_factory=dict)
    card: dict[str, float] = field(default_factory=dict)  # the pop with the patient card
    done: dict[str, asyncio.Event] = field(default_factory=dict)  # set when the card came

    def ms(self, arrived: dict[str, float]) -> list[float]:
        return [(arrived[k] - self.sent[k]) * 1000 for k in arrived if k in self.sent]

    def on_message(self, data: dict[str, Any], now: float) -> None:
        if data["type"] == "pop":
            self.on_pop(data["pop"], now)

    def on_pop(self, pop: dict[str, Any], now: float) -> None:
        linkedid = pop["linkedid"]
        self.first_pop.setdefault(linkedid, now)
        if pop["match"] != "pending" and linkedid not in self.card:
            self.card[linkedid] = now
            self.done.setdefault(linkedid, asyncio.Event()).set()


@dataclass
class Timings(PopTimings):
    bus: dict[str, float] = field(default_factory=dict)  # AgentCalled reached the bus
    board_pushes: int = 0

    def on_message(self, data: dict[str, Any], now: float) -> None:
        if data["type"] == "board":
            self.board_pushes += 1
        super().on_message(data, now)


async def listen(ws: aiohttp.ClientWebSocketResponse, timings: PopTimings) -> None:
    """Stamp every message of one websocket as it arrives, until it closes."""
    async for message in ws:
        now = time.monotonic()
        if message.type is not aiohttp.WSMsgType.TEXT:
            break
        timings.on_message(json.loads(message.data), now)


def agent_rows(count: int, password_hash: str) -> list[dict[str, Any]]:
    """``User`` rows of ``count`` agents ``agent000``... with the extensions from
    FIRST_EXTENSION on, all with one password hashed once (argon2 is slow by design)."""
    return [
        {
            "username": f"agent{n:03d}",
            "display_name": f"Agent {n}",
            "role": Role.AGENT,
            "password_hash": password_hash,
            "extension": str(FIRST_EXTENSION + n),
        }
        for n in range(count)
    ]


def agent_interface(n: int) -> str:
    """The queue member interface of the n-th agent of :func:`agent_rows`."""
    return INTERFACE.replace("{extension}", str(FIRST_EXTENSION + n))


async def _users(server: Server, agents: int, supervisors: int) -> list[tuple[int, str, Role]]:
    # Rows inserted directly (logins through the console come after).
    password_hash = hash_password(PASSWORD)
    rows = agent_rows(agents, password_hash) + [
        {
            "username": f"sup{n}",
            "display_name": f"Supervisor {n}",
            "role": Role.SUPERVISOR,
            "password_hash": password_hash,
            "extension": None,
        }
        for n in range(supervisors)
    ]
    async with server.database.transaction() as session:
        await session.execute(insert(User), rows)
    async with server.database.session() as session:
        found = await session.execute(select(User.id, User.username, User.role).order_by(User.id))
        return [(uid, name, role) for uid, name, role in found]


async def log_in_form(client: aiohttp.ClientSession, base: str, username: str) -> None:
    """A real console login (the form, its CSRF token, the password): the session cookie
    lands in ``client``'s jar (which must be ``unsafe`` to keep a bare IP address's)."""
    async with client.get(f"{base}/login") as page:
        found = _CSRF.search(await page.text())
    assert found, "no CSRF field on the login page"
    form = {"username": username, "password": PASSWORD, "csrf_token": found.group(1)}
    async with client.post(f"{base}/login", data=form, allow_redirects=False) as answer:
        assert answer.status == 302, f"login of {username} refused ({answer.status})"


async def _log_in(base: str, username: str) -> str:
    """A real console login; the session cookie."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await log_in_form(client, base, username)
        return next(c.value for c in client.cookie_jar if c.key == SESSION_COOKIE)


async def _log_in_all(base: str, usernames: list[str]) -> list[str]:
    # A few at a time: each login verifies argon2 in a worker thread.
    slots = asyncio.Semaphore(8)

    async def one(username: str) -> str:
        async with slots:
            return await _log_in(base, username)

    return await asyncio.gather(*(one(name) for name in usernames))


async def bench(args: argparse.Namespace, url: str, port: int, commands: Connection) -> Timings:
    with tempfile.TemporaryDirectory(prefix="bench_pop_") as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            database={"url": url},
            ami={"port": port, "secret": "bench", "ping_interval": 60.0},
            agi={"port": 0},
            agents={"interface": INTERFACE},
            web={"host": "127.0.0.1", "port": free_port()},
        )
        # Seeded before the server starts, as `callcenter demo` does (one SQLite writer).
        print(f"  seeding {args.patients} patients ...", flush=True)
        await upgrade_async(url)
        database = Database(url)
        try:
            await seed_demo(database, settings.booking_policy(), patients=args.patients)
        finally:
            await database.dispose()
        # The console is served on its TCP port, as `callcenter serve` serves it.
        server = await start_server(settings)
        try:
            return await _measure(args, server, commands)
        finally:
            await server.stop()


async def _measure(args: argparse.Namespace, server: Server, commands: Connection) -> Timings:
    timings = Timings()
    callers = await known_callers(server.database, limit=500)
    users = await _users(server, args.agents, args.supervisors)
    await server.ami.wait_ready(20)

    async def on_called(event: AmiEvent) -> None:
        timings.bus[event.linkedid] = time.monotonic()
        timings.sent[event.linkedid] = float(event.get("BenchSentAt"))

    server.bus.subscribe(
        AmiEvent, on_called, name="bench-baseline", predicate=lambda e: e.name == "AgentCalled"
    )
    agents = [(uid, name) for uid, name, role in users if role is Role.AGENT]
    print(f"  signing {len(agents)} agents in at the desk ...", flush=True)
    for uid, name in agents:
        await server.desk.agents.sign_in(uid, name, str(FIRST_EXTENSION + int(name[5:])))
    # No connection limit: every websocket holds its connection (aiohttp allows 100 by default).
    connector = aiohttp.TCPConnector(limit=0)
    base = f"http://127.0.0.1:{server.settings.web.port}"
    print(f"  logging {len(users)} users in to the console ...", flush=True)
    cookies = await _log_in_all(base, [name for _uid, name, _role in users])
    async with aiohttp.ClientSession(connector=connector) as client:
        sockets = []
        for cookie in cookies:
            sockets.append(
                await client.ws_connect(
                    f"{base}/ws", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}
                )
            )
        listeners = [asyncio.create_task(listen(s, timings)) for s in sockets]
        print(f"  {len(sockets)} websockets open ({len(agents)} agents); placing calls", flush=True)
        gc.freeze()
        try:
            await _place_calls(args, agents, callers, commands, timings)
        finally:
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*listeners, return_exceptions=True)
    return timings


async def _place_calls(
    args: argparse.Namespace,
    agents: list[tuple[int, str]],
    callers: list[Any],
    commands: Connection,
    timings: Timings,
) -> None:
    loop = asyncio.get_running_loop()
    async for n in paced(args.calls, args.rate):
        _uid, member = agents[n % len(agents)]
        interface = agent_interface(int(member[5:]))
        linkedid = f"bench-{n:06d}"
        timings.done[linkedid] = asyncio.Event()
        commands.send(("call", n, interface, member, callers[n % len(callers)].phone))
        loop.call_later(args.talk, commands.send, ("end", n, "", "", ""))
    async with asyncio.timeout(30):
        await asyncio.gather(*(e.wait() for e in timings.done.values()))
    await asyncio.sleep(args.talk + 0.5)  # the last calls end; their events are read


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--supervisors", type=int, default=5)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second (20)")
    parser.add_argument("--talk", type=float, default=1.0, help="seconds before a call ends")
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=default_pg_url())
    return parser.parse_args(argv)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def figures(engine: str, timings: Timings) -> list[Figure]:
    """Tell the timings as figures: pops against the bare AMI-to-bus path."""
    bus = timings.ms(timings.bus)
    result = []
    for measure, arrived, target in (
        ("first pop", timings.first_pop, TARGET_P99_MS),
        ("patient card", timings.card, None),
    ):
        samples = timings.ms(arrived)
        for q in (50.0, 99.0):
            value, base = percentile(samples, q), percentile(bus, q)
            checked = target is not None and q == 99.0
            result.append(
                Figure(
                    engine=engine,
                    measure=f"{measure} p{q:.0f} (ms), n={len(samples)}",
                    value=_fmt(value),
                    baseline=_fmt(base),
                    ratio=f"{value / base:.1f}x" if base > 0 else "-",
                    target=f"< {target:.0f} ms" if checked else "-",
                    passed=(value < TARGET_P99_MS) if checked else None,
                )
            )
    return result


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with fake_asterisk() as (port, commands):
        async with scratch_database(args.engine, args.pg_url) as url:
            timings = await bench(args, url, port, commands)
    rows = figures(args.engine, timings)
    print_figures(
        f"Screen pop latency: {args.agents} agent websockets + {args.supervisors} supervisor "
        f"boards ({timings.board_pushes} board pushes received), {args.calls} calls at "
        f"{args.rate:g}/s; baseline: AgentCalled from the AMI socket to a bus subscriber",
        rows,
    )
    missing = args.calls - len(timings.first_pop)
    if missing:
        print(f"  {missing} calls never popped")
    return 0 if all(f.passed is not False for f in rows) and not missing else 1


if __name__ == "__main__":
    sys.exit(uvloop.run(main()))
