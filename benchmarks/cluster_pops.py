"""Screen pops with the agents spread over several server processes on one PostgreSQL.

``--agents`` agents (400) log in to the console of one of ``--processes`` real ``callcenter
serve`` processes (round robin), sign in at the desk there and hold a websocket on ``/ws``.
Every process has its own AMI session to a fake Asterisk (another process, as in
``screen_pop.py``) that writes each queue call's events to every session. A call is timed
from the moment this script tells the fake Asterisk to ring the agent (``time.monotonic()``,
one pipe write before the ``AgentCalled`` goes out) to the pop at the agent's websocket. Calls
are placed at ``--rate`` per second (20), round robin over the agents.

Each call's IVR ran "elsewhere": just before its ``AgentCalled`` this script publishes the
call's last IVR step (the patient the IVR identified) through the event relay as a process of
its own (``callcenter/cluster/relay.py``), so every pop's card depends on an event that
crossed PostgreSQL. Real calls cannot reach 20/s on the sandbox (the IVR speaks for seconds
per call): the calls are synthetic, the processes, sockets, database and relay are real.

The script runs the same load on one process, then on ``--processes`` (2), and compares the
p99 of the first pop at the agent's websocket and of the pop carrying the card (target: the
spread run within 1.5x the single-process figure).

Run: ``.venv/bin/python -m benchmarks.cluster_pops [--agents 400] [--calls 600] [--rate 20]
[--processes 2] [--pg-url URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
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
from benchmarks.screen_pop import (
    FIRST_EXTENSION,
    INTERFACE,
    PASSWORD,
    PopTimings,
    agent_interface,
    agent_rows,
    fake_asterisk,
    listen,
    log_in_form,
)
from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress
from callcenter.cluster.relay import EventRelay, asyncpg_dsn
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import PatientPhone, User
from hcrm_core.seed import seed_demo
from hcrm_core.services.users import hash_password

TARGET_RATIO = 1.5
_PAGE_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
# The IVR's hand-off comes this long before the queue rings the agent.
IVR_LEAD_SECONDS = 0.02


@dataclass
class Timings(PopTimings):
    ivr_matched: set[str] = field(default_factory=set)
    # The relay alone: IVR step published here -> received by an observing relay.
    relay_sent: dict[str, float] = field(default_factory=dict)
    relay_got: dict[str, float] = field(default_factory=dict)

    def on_pop(self, pop: dict[str, Any], now: float) -> None:
        super().on_pop(pop, now)
        if pop["match"] == "ivr":
            self.ivr_matched.add(pop["linkedid"])


# -- the measured side -------------------------------------------------------------------------


async def _agents(url: str, count: int) -> list[tuple[int, str]]:
    database = Database(url)
    try:
        rows = agent_rows(count, hash_password(PASSWORD))
        async with database.transaction() as session:
            await session.execute(insert(User), rows)
        async with database.session() as session:
            found = await session.execute(select(User.id, User.username).order_by(User.id))
            return [(uid, name) for uid, name in found]
    finally:
        await database.dispose()


def _start(url: str, ami_port: int, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    web_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(
        {
            "CALLCENTER_DATA_DIR": str(data_dir),
            "CALLCENTER_DATABASE__URL": url,
            "CALLCENTER_AMI__PORT": str(ami_port),
            "CALLCENTER_AMI__SECRET": "bench",
            "CALLCENTER_AMI__PING_INTERVAL": "60",
            "CALLCENTER_AGI__PORT": str(free_port()),
            "CALLCENTER_WEB__PORT": str(web_port),
            "CALLCENTER_AGENTS__INTERFACE": INTERFACE,
            "CALLCENTER_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        }
    )
    data_dir.mkdir()
    log = (data_dir / "serve.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "callcenter", "serve"], env=env, stdout=log, stderr=log
    )
    return process, f"http://127.0.0.1:{web_port}"


async def _ready(base: str, process: subprocess.Popen[bytes]) -> None:
    async with asyncio.timeout(90), aiohttp.ClientSession() as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server {base} exited with {process.returncode}")
            try:
                async with client.get(f"{base}/healthz") as answer:
                    body = await answer.json()
                    if body.get("parts", {}).get("ami") == "ok":
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)


async def _open_desk(
    client: aiohttp.ClientSession, base: str, username: str, extension: str
) -> aiohttp.ClientWebSocketResponse:
    """Log in through the form, sign in at the desk, open /ws: one agent's browser."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        await log_in_form(browser, base, username)
        async with browser.get(f"{base}/") as home:
            token = _PAGE_CSRF.search(await home.text())
        assert token, "no CSRF token on the home page"
        headers = {"X-CSRF-Token": token.group(1)}
        body = {"extension": extension}
        async with browser.post(
            f"{base}/api/v1/desk/sign-in", json=body, headers=headers
        ) as answer:
            assert answer.status == 200, f"desk sign-in of {username}: {answer.status}"
        cookies = "; ".join(f"{c.key}={c.value}" for c in jar)
    return await client.ws_connect(f"{base}/ws", headers={"Cookie": cookies})


async def run(args: argparse.Namespace, processes: int) -> Timings:
    """One run: a fresh database, ``processes`` servers, the agents spread over them."""
    timings = Timings()
    with fake_asterisk() as (ami_port, commands), tempfile.TemporaryDirectory() as tmp:
        async with scratch_database("postgresql", args.pg_url) as url:
            await upgrade_async(url)
            database = Database(url)
            try:
                await seed_demo(database, _policy(), patients=args.patients)
                callers = await _callers(database)
            finally:
                await database.dispose()
            agents = await _agents(url, args.agents)
            servers = [_start(url, ami_port, Path(tmp) / f"p{n}") for n in range(processes)]
            try:
                await asyncio.gather(*(_ready(base, proc) for proc, base in servers))
                await _measure(args, url, servers, agents, callers, commands, timings)
                if len(timings.first_pop) < args.calls:  # say why, before the logs go
                    for n in range(processes):
                        log = (Path(tmp) / f"p{n}" / "serve.log").read_text(errors="replace")
                        print(f"  process {n}, last log lines:", *log.splitlines()[-12:], sep="\n")
            finally:
                for proc, _base in servers:
                    proc.terminate()
                for proc, _base in servers:
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
    return timings


async def _callers(database: Database) -> list[tuple[str, int]]:
    """(phone, patient id) of up to 500 demo patients: the IVR "identified" them."""
    query = select(PatientPhone.e164, PatientPhone.patient_id).order_by(PatientPhone.id).limit(500)
    async with database.session() as session:
        return [(phone, pid) for phone, pid in (await session.execute(query)).all() if phone]


def _policy() -> Any:
    from callcenter.settings import Settings

    return Settings().booking_policy()


async def _measure(
    args: argparse.Namespace,
    url: str,
    servers: list[tuple[subprocess.Popen[bytes], str]],
    agents: list[tuple[int, str]],
    callers: list[tuple[str, int]],
    commands: Connection,
    timings: Timings,
) -> None:
    bus = EventBus()
    # This script is the process whose FastAGI served every call's IVR.
    ivr_process = EventRelay(bus, asyncpg_dsn(url), (IvrProgress,), origin="bench-ivr")
    await ivr_process.start()
    observer_bus = EventBus()
    observer = EventRelay(observer_bus, asyncpg_dsn(url), (IvrProgress,), origin="bench-observer")
    await observer.start()

    async def relayed(progress: IvrProgress) -> None:
        timings.relay_got.setdefault(progress.linkedid, time.monotonic())

    observer_bus.subscribe(IvrProgress, relayed, name="bench-relay-latency")
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as client:
        slots = asyncio.Semaphore(8)  # logins verify argon2 in a worker thread

        listeners: list[asyncio.Task[None]] = []

        async def open_one(n: int, name: str) -> aiohttp.ClientWebSocketResponse:
            async with slots:
                base = servers[n % len(servers)][1]
                ws = await _open_desk(client, base, name, str(FIRST_EXTENSION + n))
            # Read at once: a socket nobody reads answers no ping, and the server closes it
            # after 20 s (opening 400 desks takes minutes).
            listeners.append(asyncio.create_task(listen(ws, timings)))
            return ws

        print(f"  {len(agents)} agents over {len(servers)} process(es) ...", flush=True)
        sockets = await asyncio.gather(*(open_one(n, name) for n, (_u, name) in enumerate(agents)))
        closed = sum(ws.closed for ws in sockets)
        if closed:
            print(f"  {closed} sockets closed before the calls", flush=True)
        await asyncio.sleep(2.0)  # every desk settled (resync, queue adds)
        try:
            await _place_calls(args, agents, callers, commands, bus, timings)
        finally:
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*listeners, return_exceptions=True)
            await ivr_process.stop()
            await observer.stop()
            await bus.close()
            await observer_bus.close()


async def _place_calls(
    args: argparse.Namespace,
    agents: list[tuple[int, str]],
    callers: list[tuple[str, int]],
    commands: Connection,
    bus: EventBus,
    timings: Timings,
) -> None:
    loop = asyncio.get_running_loop()
    async for n in paced(args.calls, args.rate):
        member = agents[n % len(agents)][1]
        interface = agent_interface(n % len(agents))
        linkedid = f"bench-{n:06d}"
        phone, patient_id = callers[n % len(callers)]
        timings.done[linkedid] = asyncio.Event()
        timings.relay_sent[linkedid] = time.monotonic()
        if not args.no_ivr:
            bus.publish(
                IvrProgress(
                    linkedid,
                    "to-agent",
                    {"patient_id": patient_id, "identified_by": "caller-id"},
                    left=True,
                    patient_id=patient_id,
                )
            )
        loop.call_later(IVR_LEAD_SECONDS, _ring, commands, timings, (n, interface, member, phone))
        loop.call_later(args.talk, commands.send, ("end", n, "", "", ""))
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*(e.wait() for e in timings.done.values()))
    except TimeoutError:
        print(f"  {sum(not e.is_set() for e in timings.done.values())} cards never came")
    await asyncio.sleep(args.talk + 0.5)


def _ring(commands: Connection, timings: Timings, call: tuple[int, str, str, str]) -> None:
    """The queue rings the agent: stamped as the fake Asterisk is told (a pipe write away)."""
    n, interface, member, phone = call
    timings.sent[f"bench-{n:06d}"] = time.monotonic()
    commands.send(("call", n, interface, member, phone))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second (20)")
    parser.add_argument("--talk", type=float, default=1.0, help="seconds before a call ends")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--pg-url", default=default_pg_url())
    parser.add_argument("--no-ivr", action="store_true", help="no relayed IVR steps")
    return parser.parse_args(argv)


def figures(single: Timings, spread: Timings, processes: int) -> list[Figure]:
    rows = []
    for measure, pick in (("first pop", "first_pop"), ("patient card", "card")):
        for q in (50.0, 99.0):
            base = percentile(single.ms(getattr(single, pick)), q)
            value = percentile(spread.ms(getattr(spread, pick)), q)
            ratio = value / base if base > 0 else float("inf")
            checked = q == 99.0
            rows.append(
                Figure(
                    engine=f"{processes} processes",
                    measure=f"{measure} p{q:.0f} (ms)",
                    value=f"{value:.1f}",
                    baseline=f"{base:.1f}",
                    ratio=f"{ratio:.2f}x",
                    target=f"<= {TARGET_RATIO}x" if checked else "-",
                    passed=(ratio <= TARGET_RATIO) if checked else None,
                )
            )
    return rows


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("single process:", flush=True)
    single = await run(args, 1)
    print(f"{args.processes} processes:", flush=True)
    spread = await run(args, args.processes)
    rows = figures(single, spread, args.processes)
    print_figures(
        f"Screen pops, {args.agents} agent websockets, {args.calls} calls at {args.rate:g}/s; "
        f"baseline: the same load on one process",
        rows,
    )
    for label, timings in (("single", single), ("spread", spread)):
        relay = [
            (timings.relay_got[k] - timings.relay_sent[k]) * 1000
            for k in timings.relay_got
            if k in timings.relay_sent
        ]
        print(
            f"  {label}: {len(timings.first_pop)}/{args.calls} popped, "
            f"{len(timings.card)} carded, {len(timings.ivr_matched)} carded by the relayed IVR "
            f"identity; relay alone p50 {percentile(relay, 50):.1f} ms, "
            f"p99 {percentile(relay, 99):.1f} ms (n={len(relay)})"
        )
    return 0 if all(f.passed is not False for f in rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
