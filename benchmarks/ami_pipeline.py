"""AMI event pipeline throughput: real recorded Asterisk traffic replayed at full speed.

1. **Record** (needs root and the sandbox): a few hundred calls are originated in bursts into
   the sandbox Asterisk, through a queue of simulated agents and (one call in five) through an
   IVR served by a FastAGI flow in this process; the raw AMI bytes the server's AMI user
   receives are captured with the bridge's ``tap``. The recording goes to a temporary file
   (``--recording PATH`` keeps and reuses it). ``--mixmonitor``: every call is recorded
   (``CALLCENTER_RECORD=always``, MixMonitor started by the dialplan's ``callcenter-record``)
   and the capturing session's user has the production read classes plus ``reporting``, so
   the ``TestEvent``s MixMonitor sends (``MIXMONITOR_START``/``END``...) are in the recording.
2. **Replay**: a fake AMI server in a separate process (banner, Login success, FullyBooted,
   empty resync answers, then the recorded events as fast as the socket takes them; the
   recording is repeated ``--repeat`` times with call ids made unique per repetition) feeds:

   The recording is cut into messages by the live reader's own framing
   (:func:`recorded_events`), so the replay sends exactly the messages the live bridge would
   have published as events, byte for byte (an event after a ``TestEvent``, which Asterisk 22
   ends with an extra CRLF, starts with that empty line and takes the live slow path).

   a. the baseline: bare parsing, i.e. our ``ami_protocol.MessageFramer`` (panoramisk's
      ``Message`` parser) in a plain asyncio protocol, no handlers;
   b. the full pipeline: ``AmiBridge`` + ``EventBus`` + ``CallTracker`` + ``CallLogWriter``
      batching into a scratch database (SQLite, and PostgreSQL with ``--engine both``).

   Events/s for (b) count until every call row and stored event is committed. A task
   measures event-loop lag (overshoot of ``sleep(0.01)``) throughout each replay.

Targets: (b) at least 0.7x (a), at least 20,000 events/s, worst loop lag under 50 ms; no
event dropped by the bus and no call left open after the replay.

Run: ``.venv/bin/python -m benchmarks.ami_pipeline [--calls 300] [--repeat 10]
[--engine sqlite|postgresql|both] [--recording PATH] [--mixmonitor] [--no-gc-freeze]
[--asyncio-loop]``
(uvloop by default, as ``callcenter serve`` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, cast

from panoramisk.message import Message
from pydantic import SecretStr
from sqlalchemy import func, select

from benchmarks._common import Figure, default_pg_url, print_figures, scratch_database
from callcenter.agi.channel import AgiChannel
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiBridge, AmiEvent
from callcenter.ami.protocol import MessageFramer
from callcenter.asterisk import const
from callcenter.bus import EventBus
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.tracker import CallTracker
from callcenter.settings import AgiSettings, AmiSettings, Settings
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import Call, CallEvent

if TYPE_CHECKING:
    from callcenter.asterisk.render import AmiUser
    from callcenter.asterisk.sandbox import AsteriskSandbox

EVENTS_PER_S_TARGET = 20_000.0
RATIO_TARGET = 0.7
LAG_TARGET_MS = 50.0
REPLAY_TIMEOUT = 300.0
END_MARK = b"Event: UserEvent\r\nUserEvent: BenchEnd\r\n\r\n"
_ID_HEADERS = re.compile(rb"^((?:Dest)?(?:Uniqueid|Linkedid)): ([^\r]+)\r$", re.MULTILINE)
_BLOCK_END = b"\r\n\r\n"
_EOM = "\r\n\r\n"
_EVENT_PREFIX = "Event: "
# The capturing user of --mixmonitor recordings: the production classes plus "reporting"
# (TestEvent), added to the sandbox's manager.conf for the recording only.
REPORTING_USER = "bench-reporting"


# -- 1. recording ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    path: Path
    calls: int
    events: int
    seconds: float


def _sandbox_settings(data_dir: Path) -> Settings:
    # The test plugin's settings: the sandbox every test session shares, fixed AMI secret.
    from tests.support.asterisk_sandbox import sandbox_test_settings

    return sandbox_test_settings(data_dir)


async def _ivr_to_queue(agi: AgiChannel, queue: str) -> None:
    await agi.answer()
    await agi.stream_file("silence/1")
    await agi.set_variable("CALLCENTER_QUEUE", queue)


async def record(
    calls: int, path: Path, *, agents: int = 60, burst: int = 10, mixmonitor: bool = False
) -> Recording:
    """Originate ``calls`` calls into the sandbox and write the raw AMI bytes to ``path``.

    ``mixmonitor``: every call is recorded by the dialplan (policy ``always``) and the bytes
    are those a user with the production classes plus ``reporting`` receives.
    """
    from callcenter.asterisk.sandbox import AsteriskSandbox

    with tempfile.TemporaryDirectory(prefix="bench_ami_") as data_dir:
        settings = _sandbox_settings(Path(data_dir))
        sandbox = AsteriskSandbox(settings)
        await asyncio.to_thread(sandbox.start)
        if not mixmonitor:
            return await _record_calls(settings, settings.ami, calls, path, agents, burst)
        async with _reporting_user(sandbox) as capturing:
            try:
                return await _record_calls(
                    settings, capturing, calls, path, agents, burst, record_calls=True
                )
            finally:
                _remove_bench_recordings(sandbox.recordings_dir)


def _render_manager_conf(sandbox: AsteriskSandbox, extra_users: list[AmiUser]) -> None:
    """Write the sandbox's manager.conf as ``render_config`` does, plus ``extra_users``."""
    from callcenter.asterisk.render import _environment, _write_atomically, template_context

    context = template_context(sandbox.settings, True)
    context["ami"]["users"] = [*context["ami"]["users"], *extra_users]
    text = _environment().get_template("manager.conf").render(context)
    _write_atomically(sandbox.root / "etc/asterisk/manager.conf", text, 0o640)


@contextlib.asynccontextmanager
async def _reporting_user(sandbox: AsteriskSandbox) -> AsyncIterator[AmiSettings]:
    """A sandbox AMI user with the production classes plus ``reporting``, for the recording.

    Added to the shared sandbox's manager.conf and ``manager reload``-ed (no restart: other
    sessions keep their AMI sessions); the plain configuration is rendered back afterwards.
    """
    from callcenter.asterisk.render import AmiUser, derive_secret

    settings = sandbox.settings
    secret = derive_secret(settings.ami.secret.get_secret_value(), "ami:" + REPORTING_USER)
    user = AmiUser(
        name=REPORTING_USER,
        secret=secret,
        read=(*const.AMI_READ_CLASSES, "reporting"),
        write=const.AMI_WRITE_CLASSES,
        permit=("127.0.0.1/255.255.255.255",),
    )

    def install(users: list[AmiUser]) -> None:
        with sandbox._lock():  # the sandbox's own lock: sessions render and reload under it
            _render_manager_conf(sandbox, users)
            sandbox.cli("manager reload")

    await asyncio.to_thread(install, [user])
    try:
        yield settings.ami.model_copy(
            update={"username": REPORTING_USER, "secret": SecretStr(secret)}
        )
    finally:
        await asyncio.to_thread(install, [])


def _remove_bench_recordings(directory: Path) -> None:
    # The benchmark's MixMonitor files (named by the bench-* Linkedids) are of no use after:
    # left there they would be the newest "recordings" other benchmarks and tests pick up.
    for file in directory.glob("bench-*.wav"):
        file.unlink(missing_ok=True)


async def _record_calls(
    settings: Settings,
    capturing: AmiSettings,
    calls: int,
    path: Path,
    agents: int,
    burst: int,
    *,
    record_calls: bool = False,
) -> Recording:
    queue = const.QUEUES[0].name
    members = [f"Local/{1600 + n}@{const.CONTEXT_SIM_AGENTS}" for n in range(agents)]
    bus = EventBus()
    chunks: list[bytes] = []
    ended: set[str] = set()
    all_ended = asyncio.Event()
    linkedids: set[str] = set()

    async def on_hangup(event: AmiEvent) -> None:
        if event.uniqueid in linkedids:
            ended.add(event.uniqueid)
            if len(ended) == calls:
                all_ended.set()

    bus.subscribe(AmiEvent, on_hangup, predicate=lambda e: e.name == "Hangup")
    # Every channel created while recording, the benchmark's or another session's (the sandbox
    # is shared): the recording ends only once all are hung up, so no call is cut in the middle.
    channels: set[str] = set()
    no_channels = asyncio.Event()

    async def on_channel(event: AmiEvent) -> None:
        if event.name == "Newchannel":
            channels.add(event.uniqueid)
            no_channels.clear()
        else:
            channels.discard(event.uniqueid)
            if not channels:
                no_channels.set()

    bus.subscribe(AmiEvent, on_channel, predicate=lambda e: e.name in ("Newchannel", "Hangup"))
    recording = AmiBridge(capturing, bus, tap=chunks.append)
    driver = AmiBridge(settings.ami, EventBus())
    agi = FastAgiServer(
        AgiSettings(port=0), {const.AGI_ROUTE_IVR: lambda channel: _ivr_to_queue(channel, queue)}
    )
    await agi.start()
    await recording.start()
    await driver.start()
    started = time.monotonic()
    try:
        await recording.wait_ready(20)
        await driver.wait_ready(20)
        for member in members:
            await driver.send_action({"Action": "QueueAdd", "Queue": queue, "Interface": member})
        rng = random.Random(2026)
        for n in range(calls):
            linkedid = f"bench-{uuid.uuid4().hex[:12]}"
            linkedids.add(linkedid)
            await _originate_one(driver, rng, linkedid, queue, agi.port, record_calls)
            if n % burst == burst - 1:
                print(f"  recording: {n + 1}/{calls} calls originated", flush=True)
                await asyncio.sleep(1.5)
        async with asyncio.timeout(180):
            await all_ended.wait()
        await recording.ping()  # every event before its answer has been published...
        await bus.join()  # ... and handled
        if channels:
            print(f"  recording: waiting for {len(channels)} other channels to end", flush=True)
            async with asyncio.timeout(180):
                await no_channels.wait()
        await recording.ping()  # its answer follows every event queued before it
    finally:
        for member in members:
            with contextlib.suppress(Exception):
                await driver.send_action(
                    {"Action": "QueueRemove", "Queue": queue, "Interface": member}
                )
        await driver.stop()
        await recording.stop()
        await agi.stop()
        await bus.close()
    data = b"".join(chunks)
    await asyncio.to_thread(path.write_bytes, data)
    return Recording(path, calls, len(recorded_events(data)), time.monotonic() - started)


async def _originate_one(
    driver: AmiBridge,
    rng: random.Random,
    linkedid: str,
    queue: str,
    agi_port: int,
    record_calls: bool = False,
) -> None:
    kind = rng.random()
    caller = f'"Patient {rng.randint(1, 9999)}" <+1212555{rng.randint(0, 9999):04d}>'
    agent_vars = {"__SIM_AGENT_RING": "0", "__SIM_AGENT_TALK": str(rng.randint(1, 3))}
    # The recording slice's policy: MixMonitor from callcenter-record as the caller queues.
    recording = {"CALLCENTER_RECORD": "always"} if record_calls else {}
    if kind < 0.2:  # through the IVR, which names the queue
        context, exten = const.CONTEXT_INBOUND, "s"
        channel = f"Local/s@{const.CONTEXT_SIM_PATIENT}"
        variables = {"SIM_HOLD": "25", "CALLCENTER_AGI": f"agi://127.0.0.1:{agi_port}"}
    elif kind < 0.4:  # gives up after a few seconds (abandoned unless an agent is quick)
        context, exten = const.CONTEXT_QUEUES, queue
        channel = f"Local/hangup@{const.CONTEXT_SIM_PATIENT}"
        variables = {"SIM_DELAY": str(rng.randint(1, 4))}
    else:
        context, exten = const.CONTEXT_QUEUES, queue
        channel = f"Local/s@{const.CONTEXT_SIM_PATIENT}"
        variables = {"SIM_HOLD": "25"}
    await driver.originate(
        channel,
        context=context,
        exten=exten,
        caller_id=caller,
        channel_id=linkedid,
        variables={**variables, **agent_vars, **recording},
    )


# -- 2. replay ---------------------------------------------------------------------------------


def recorded_events(data: bytes) -> list[str]:
    """The messages of a recording the live bridge publishes as events, as it frames them.

    Cut by the live reader's own framer (``MessageFramer.feed_blocks``: banner, characters
    split across reads, blank-line terminators), so each message is the text the live path
    sees, leading empty line included: Asterisk 22 ends a ``TestEvent`` with an extra CRLF,
    and the message after it starts with that line. Which messages are events is decided as
    ``BridgeProtocol`` decides it: a message starting with ``Event: `` and no ``ActionID``
    takes the fast path; any other is parsed by panoramisk's ``Message.from_line`` and goes to
    ``handle_message``, where a ``Response``, and an event with the ``ActionID`` of one of the
    capturing session's own actions (its Login, resync lists, Ping), complete that action;
    every other event (an ``OriginateResponse`` of another session's Originate, say) is
    published. A trailing partial message is left out, as the live reader keeps it pending.
    """
    blocks = MessageFramer().feed_blocks(data)
    parsed: list[Message | None] = [
        None if _fast_path(block) else Message.from_line(block.strip()) for block in blocks
    ]
    own_actions = {
        message.id
        for message in parsed
        if message is not None and "Response" in message and "Event" not in message
    } - {None}
    return [
        block
        for block, message in zip(blocks, parsed, strict=True)
        if message is None or ("Event" in message and message.id not in own_actions)
    ]


def _fast_path(block: str) -> bool:
    # BridgeProtocol._handle_some's test, with actions pending (as the capturing session had).
    return block.startswith(_EVENT_PREFIX) and "ActionID: " not in block


def replay_stream(blocks: list[str], repeat: int) -> tuple[bytes, int]:
    """The events ``repeat`` times, each repetition with its own call ids; and their count.

    Each message is sent exactly as it was framed (a leading empty line stays): the bridge
    under test cuts the stream into the same messages and takes the same paths.
    """
    parts: list[bytes] = []
    body = (_EOM.join(blocks) + _EOM).encode()
    for n in range(repeat):
        suffix = f"-r{n}".encode()
        parts.append(_ID_HEADERS.sub(rb"\1: \2" + suffix + rb"\r", body))
    parts.append(END_MARK)
    return b"".join(parts), len(blocks) * repeat


def _serve_forever(stream: bytes, port_out: Connection) -> None:
    """The fake AMI server (runs in its own process, so its CPU is not the consumer's)."""
    asyncio.run(_fake_ami(stream, port_out))


async def _fake_ami(stream: bytes, port_out: Connection) -> None:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        streaming: asyncio.Task[None] | None = None
        try:
            while block := await reader.readuntil(_BLOCK_END):
                headers = dict(
                    line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
                )
                writer.write(_answer(headers))
                if headers.get("Action") == "Login" and streaming is None:
                    streaming = asyncio.create_task(_stream(writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if streaming is not None:
                streaming.cancel()
            writer.close()

    async def _stream(writer: asyncio.StreamWriter) -> None:
        writer.write(b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
        view = memoryview(stream)
        step = 256 * 1024
        start = 0
        while start < len(stream):
            # Whole messages per write, so action answers interleave cleanly.
            end = stream.find(_BLOCK_END, start + step)
            end = len(stream) if end < 0 else end + len(_BLOCK_END)
            writer.write(view[start:end])
            await writer.drain()
            start = end

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port_out.send(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _answer(headers: dict[str, str]) -> bytes:
    action = headers.get("Action", "")
    action_id = headers.get("ActionID", "")
    if action == "Login":
        return _msg(Response="Success", ActionID=action_id, Message="Authentication accepted")
    if action in ("CoreShowChannels", "QueueStatus"):
        complete = (
            "CoreShowChannelsComplete" if action == "CoreShowChannels" else "QueueStatusComplete"
        )
        return _msg(Response="Success", ActionID=action_id, EventList="start") + _msg(
            Event=complete, ActionID=action_id, EventList="Complete", ListItems="0"
        )
    if action == "Ping":
        return _msg(Response="Success", ActionID=action_id, Ping="Pong")
    return _msg(Response="Success", ActionID=action_id)


def _msg(**headers: str) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


@contextlib.contextmanager
def fake_ami_server(stream: bytes) -> Iterator[int]:
    """Start the fake AMI server process; yields its port."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_serve_forever, args=(stream, send), daemon=True)
    process.start()
    try:
        yield int(receive.recv())
    finally:
        process.terminate()
        process.join(5)


class LagMonitor:
    """Worst overshoot of ``sleep(0.01)`` while running: how long the loop was blocked."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - before - 0.01)

    def __enter__(self) -> LagMonitor:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


@dataclass(frozen=True)
class Run:
    seconds: float
    events: int
    lag_ms: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


class _Counting(asyncio.Protocol):
    """Baseline client: logs in, frames and parses every message, does nothing with them."""

    def __init__(self, done: asyncio.Future[int]) -> None:
        self._framer = MessageFramer()
        self._done = done
        self.events = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have write().
        login = _msg(Action="Login", ActionID="1", Username="u", Secret="s")
        cast(asyncio.WriteTransport, transport).write(login)

    def data_received(self, data: bytes) -> None:
        for message in self._framer.feed(data):
            if "Event" in message:
                self.events += 1
                if message.get("UserEvent") == "BenchEnd":
                    self._done.set_result(self.events)


async def replay_bare(port: int) -> Run:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    with LagMonitor() as lag:
        started = time.perf_counter()
        transport, _ = await loop.create_connection(lambda: _Counting(done), "127.0.0.1", port)
        async with asyncio.timeout(REPLAY_TIMEOUT):
            events = await done
        seconds = time.perf_counter() - started
    transport.close()
    return Run(seconds, events - 2, lag.worst * 1000)  # less FullyBooted and the end mark


def _is_end_mark(event: AmiEvent) -> bool:
    return event.name == "UserEvent" and event.get("UserEvent") == "BenchEnd"


async def replay_pipeline(port: int, url: str, expected: int) -> tuple[Run, dict[str, int]]:
    database = Database(url, pool_size=5)
    bus = EventBus()
    writer = CallLogWriter(database)
    tracker = CallTracker(bus, writer, database, None, inbound_contexts=[const.CONTEXT_INBOUND])
    end_seen = asyncio.Event()

    async def on_end(_event: AmiEvent) -> None:
        end_seen.set()

    try:
        await writer.start()
        await tracker.start()
        bus.subscribe(AmiEvent, on_end, predicate=_is_end_mark)
        bridge = AmiBridge(AmiSettings(port=port, ping_interval=60.0), bus)
        with LagMonitor() as lag:
            started = time.perf_counter()
            await bridge.start()
            async with asyncio.timeout(REPLAY_TIMEOUT):
                await end_seen.wait()
            await bus.join()
            ingested = time.perf_counter() - started
            await writer.flush()
            seconds = time.perf_counter() - started
        await bridge.stop()
        await tracker.stop()
        await writer.stop()
        dropped = sum(s.dropped for s in bus.stats())
        async with database.session() as session:
            calls = await session.scalar(select(func.count()).select_from(Call)) or 0
            stored = await session.scalar(select(func.count()).select_from(CallEvent)) or 0
            still_open = (
                await session.scalar(
                    select(func.count()).select_from(Call).where(Call.ended_at.is_(None))
                )
                or 0
            )
        seen = tracker.events_seen
    finally:
        await bus.close()
        await database.dispose()
    counts = {
        "events": expected,
        "tracked": seen,
        "dropped": dropped,
        "calls": calls,
        "open": still_open,
        "stored": stored,
        "tracked_per_s": round(expected / ingested),
    }
    return Run(seconds, expected, lag.worst * 1000), counts


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls to record (300)")
    parser.add_argument("--repeat", type=int, default=10, help="replays of the recording (10)")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--recording", type=Path, help="reuse this recording, or keep a new one here"
    )
    parser.add_argument(
        "--mixmonitor",
        action="store_true",
        help="record every call (MixMonitor) and capture with the classes plus reporting",
    )
    parser.add_argument("--pg-url", default=default_pg_url())
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="do not gc.freeze() the start-up objects before replaying",
    )
    return parser.parse_args(argv)


async def bench(args: argparse.Namespace, path: Path) -> list[Figure]:
    if not await asyncio.to_thread(path.exists):
        kind = " with MixMonitor" if args.mixmonitor else ""
        print(f"recording {args.calls} calls{kind} from the sandbox into {path} ...", flush=True)
        made = await record(args.calls, path, mixmonitor=args.mixmonitor)
        print(f"  {made.events} events in {made.seconds:.0f} s", flush=True)
    blocks = recorded_events(await asyncio.to_thread(path.read_bytes))
    stream, expected = replay_stream(blocks, args.repeat)
    print(
        f"replaying {len(blocks)} recorded events x {args.repeat} = {expected} events "
        f"({len(stream) / 1e6:.1f} MB)",
        flush=True,
    )
    figures: list[Figure] = []
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if args.gc_freeze:
        # What a long-running server does once started: the objects of start-up (modules,
        # SQLAlchemy metadata...) leave the collector's view, so a full collection no longer
        # scans them on the read path (100+ ms on this machine otherwise).
        gc.collect()
        gc.freeze()
    with fake_ami_server(stream) as port:
        bare = await replay_bare(port)
        print(f"  (a) bare parsing: {bare.rate:,.0f} events/s, lag {bare.lag_ms:.1f} ms")
        for engine in engines:
            async with scratch_database(engine, args.pg_url) as url:
                await upgrade_async(url)
                run, counts = await replay_pipeline(port, url, expected)
            print(
                f"  (b) pipeline, {engine}: {run.rate:,.0f} events/s in {run.seconds:.2f} s, "
                f"lag {run.lag_ms:.1f} ms; {counts}",
                flush=True,
            )
            ratio = run.rate / bare.rate
            figures += [
                Figure(
                    engine,
                    "events/s (pipeline vs bare parsing)",
                    f"{run.rate:,.0f}",
                    f"{bare.rate:,.0f}",
                    f"{ratio:.2f}x",
                    f">= {EVENTS_PER_S_TARGET:,.0f}/s, >= {RATIO_TARGET}x",
                    run.rate >= EVENTS_PER_S_TARGET and ratio >= RATIO_TARGET,
                ),
                Figure(
                    engine,
                    "worst event-loop lag (ms)",
                    f"{run.lag_ms:.1f}",
                    f"{bare.lag_ms:.1f}",
                    f"{run.lag_ms / max(bare.lag_ms, 0.1):.1f}x",
                    f"< {LAG_TARGET_MS:.0f} ms",
                    run.lag_ms < LAG_TARGET_MS,
                ),
                Figure(
                    engine,
                    "events lost (dropped by the bus)",
                    str(counts["dropped"]),
                    "0",
                    "-",
                    "0",
                    counts["dropped"] == 0,
                ),
                Figure(
                    engine,
                    f"calls left open (of {counts['calls']:,})",
                    str(counts["open"]),
                    "0",
                    "-",
                    "0",
                    counts["open"] == 0,
                ),
            ]
    return figures


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_ami_") as directory:
        path = args.recording or Path(directory) / "recording.ami"
        figures = await bench(args, path)
    print_figures(f"AMI pipeline benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", figures)
    return 1 if any(f.passed is False for f in figures) else 0


if __name__ == "__main__":
    # The same event loop as `callcenter serve` (uvloop); --asyncio-loop for the default one.
    if "--asyncio-loop" in sys.argv[1:]:
        sys.argv.remove("--asyncio-loop")
        sys.exit(asyncio.run(main()))
    import uvloop

    sys.exit(uvloop.run(main()))
