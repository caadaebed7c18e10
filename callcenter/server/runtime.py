"""``callcenter serve``: start every long-lived part in order, stop them in reverse on SIGTERM.

Order matters: the database first (everything writes to it), then the event bus, the AMI
bridge (which connects in the background and keeps retrying, so a missing PBX never stops the
console from serving), and last the HTTP console that reports on all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from callcenter.agents.plugin import AgentDesk, start_agent_desk
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk.const import AGI_ROUTE_SURVEY, CONTEXT_INBOUND
from callcenter.bus import EventBus
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.tracker import CallTracker
from callcenter.ivr.plugin import build_routes
from callcenter.ivr.speech_input import SpeechInput
from callcenter.outbound.plugin import Outbound, start_outbound, survey_route
from callcenter.recording.plugin import Recordings, start_recordings
from callcenter.settings import Settings
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    """The running server's parts, handed to the web console and the telephony services."""

    settings: Settings
    database: Database
    bus: EventBus
    ami: AmiBridge
    agi: FastAgiServer
    call_log: CallLogWriter
    calls: CallTracker
    patients: PatientService
    scheduling: SchedulingService
    appointments: AppointmentService
    desk: AgentDesk
    recordings: Recordings
    outbound: Outbound


async def _seed_if_empty(settings: Settings, database: Database) -> None:
    from hcrm_core.seed import DemoAlreadySeeded, seed_demo

    try:
        summary = await seed_demo(database, settings.booking_policy())
    except DemoAlreadySeeded:
        _LOG.info("demo data already present; not seeding")
        return
    _LOG.info("seeded %s", summary)


async def start_runtime(settings: Settings, *, seed_demo: bool = False) -> Runtime:
    """Start every part in order. If one fails (a bad speech model, the FastAGI port taken),
    those already started are stopped in reverse order before the error goes up."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade_async(settings.database_url)
    async with contextlib.AsyncExitStack() as started:
        runtime = await _start_parts(settings, started, seed_demo=seed_demo)
        # Running: from here on stop_runtime() stops the parts.
        started.pop_all()
    return runtime


async def _start_parts(
    settings: Settings, started: contextlib.AsyncExitStack, *, seed_demo: bool
) -> Runtime:
    database = Database(
        settings.database_url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    started.push_async_callback(database.dispose)
    if seed_demo:
        await _seed_if_empty(settings, database)
    # Open SQLite's kept connections (a thread each) now, not during the first burst of calls
    # (benchmarks/README.md, ivr_load); a PostgreSQL pool's connections are cheaper to open.
    if database.dialect == "sqlite":
        await database.warm_up()
    policy = settings.booking_policy()
    patients = PatientService(database, policy)
    scheduling = SchedulingService(database, policy)
    appointments = AppointmentService(database, policy)
    bus = EventBus()
    started.push_async_callback(bus.close)
    # The tracker subscribes before the bridge connects, so no event of a call is missed.
    call_log = CallLogWriter(database)
    await call_log.start()
    started.push_async_callback(call_log.stop)
    calls = CallTracker(
        bus,
        call_log,
        database,
        patients,
        inbound_contexts=[CONTEXT_INBOUND],
        campaign_prefix=settings.outbound.channel_prefix,
    )
    await calls.start()
    started.push_async_callback(calls.stop)
    ami = AmiBridge(settings.ami, bus)
    desk = start_agent_desk(
        settings,
        bus=bus,
        ami=ami,
        calls=calls,
        database=database,
        patients=patients,
    )
    started.push_async_callback(desk.stop)
    # Subscribed before the bridge connects, like the tracker: no recording start is missed.
    recordings = await start_recordings(settings, bus=bus, ami=ami, database=database)
    started.push_async_callback(recordings.stop)
    # The dialer too: the first resync after connecting reconciles its calls in flight.
    outbound = await start_outbound(settings, bus=bus, ami=ami, database=database)
    started.push_async_callback(outbound.stop)
    await ami.start()
    started.push_async_callback(ami.stop)
    # Speech input loads its Vosk model here, once, in a worker thread (seconds).
    speech = await SpeechInput.start(settings) if settings.speech.enabled else None
    if speech is not None:
        started.push_async_callback(speech.stop)
    agi = FastAgiServer(
        settings.agi,
        build_routes(
            bus,
            patients=patients,
            scheduling=scheduling,
            appointments=appointments,
            timezone=settings.hospital.timezone,
            speech=speech,
            extra_routes={
                AGI_ROUTE_SURVEY: survey_route(
                    settings, bus=bus, attempts=outbound.attempts, appointments=appointments
                )
            },
        ),
        speech=speech,
    )
    await agi.start()
    started.push_async_callback(agi.stop)
    # Campaign calls only once their dialogs can be served.
    await outbound.start_dialing()
    return Runtime(
        settings=settings,
        database=database,
        bus=bus,
        ami=ami,
        agi=agi,
        call_log=call_log,
        calls=calls,
        patients=patients,
        scheduling=scheduling,
        appointments=appointments,
        desk=desk,
        recordings=recordings,
        outbound=outbound,
    )


async def stop_runtime(runtime: Runtime) -> None:
    """Stop the parts in reverse order, once the FastAGI dialogs in progress are drained."""
    # No new campaign call while the dialogs drain: it would answer into a closed FastAGI port.
    await runtime.outbound.stop_dialing()
    # Up to agi.drain_seconds: the AMI bridge, the call log and the database stay up meanwhile,
    # so a dialog half-way through a booking still books and its outcome is logged.
    await runtime.agi.stop()
    await runtime.outbound.stop()
    await runtime.ami.stop()
    await runtime.recordings.stop()
    await runtime.desk.stop()
    await runtime.calls.stop()
    await runtime.call_log.stop()
    await runtime.bus.close()
    await runtime.database.dispose()


async def run_server(
    settings: Settings,
    *,
    seed_demo: bool = False,
    background: Callable[[Runtime], Awaitable[None]] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT, then shut down cleanly in reverse order.

    ``background`` (``callcenter demo``'s simulated callers) runs once the console serves and
    is cancelled first at shutdown.
    """
    from web_console.app import create_app

    runtime = await start_runtime(settings, seed_demo=seed_demo)
    # Everything loaded so far (modules, settings, caches) lives as long as the process: keep
    # it out of the collector's full passes, which otherwise pause the loop for 100+ ms.
    gc.freeze()
    runner = web.AppRunner(create_app(runtime), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.web.host, settings.web.port)
    stop = asyncio.Event()
    extra: asyncio.Task[None] | None = None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await site.start()
        _LOG.info(
            "console on http://%s:%s/ ; AMI %s:%s ; database %s",
            settings.web.host,
            settings.web.port,
            settings.ami.host,
            settings.ami.port,
            runtime.database.dialect,
        )
        if background is not None:
            extra = asyncio.create_task(_run_background(background, runtime, stop))
        await stop.wait()
        _LOG.info("shutting down")
    finally:
        if extra is not None:
            extra.cancel()
            await asyncio.gather(extra, return_exceptions=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        await runner.cleanup()
        await stop_runtime(runtime)


async def _run_background(
    job: Callable[[Runtime], Awaitable[None]], runtime: Runtime, stop: asyncio.Event
) -> None:
    """A background job that fails stops the server (it was asked for, so say it broke)."""
    try:
        await job(runtime)
    except asyncio.CancelledError:
        raise
    except Exception:
        _LOG.exception("background job failed: stopping the server")
        stop.set()
