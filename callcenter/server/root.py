"""The composition root: builds every part of the server and starts it, in order.

This is the one place that imports every layer (hcrm_core, the callcenter slices,
web_console) and wires them together with plain arguments: each slice's ``plugin.start``
gets its own settings section and the parts it uses, the console a typed
:class:`~web_console.deps.ConsoleDeps`. Start order (stopped in exact reverse by
:class:`~callcenter.server.lifecycle.Lifecycle`):

database, bus, call log, tracker, slot horizon, agent desk, board, recordings, monitoring,
outbound events, event relay (PostgreSQL), AMI bridge, IVR speech, FastAGI, leadership
(dialing, callback placing and the nightly jobs, on the leader only:
callcenter/cluster/leader.py), web console.

Why this order: everything writes to the database; the tracker, the desk, the board, the
recordings and the dialer's events subscribe to the bus before the AMI bridge connects, so
the bridge's first resync reaches them all; speech is loaded before the FastAGI server serves
the dialogs that use it; campaign calls are placed only once their dialogs can be served.
In reverse, the console stops first, the dialer stops originating before the FastAGI server
drains its dialogs (up to ``agi.drain_seconds``), and the AMI bridge, the call log and the
database stay up while they drain, so a dialog half-way through a booking still books and its
outcome is logged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import partial

from aiohttp import web

from callcenter.agents import plugin as agents_plugin
from callcenter.agents.notifier import DeskChanged, QueuesChanged
from callcenter.agents.plugin import AgentDesk
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk.const import CONTEXT_INBOUND
from callcenter.board import plugin as board_plugin
from callcenter.board.plugin import Board
from callcenter.bus import EventBus
from callcenter.callbacks import plugin as callbacks_plugin
from callcenter.callbacks.plugin import Callbacks
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.state import IvrProgress
from callcenter.calls.tracker import CallTracker
from callcenter.cluster.leader import LeaderElection, node_name
from callcenter.cluster.relay import EventRelay, IdleRelay, start_relay
from callcenter.ivr import plugin as ivr_plugin
from callcenter.ivr.flows.queue_callback import CallbackDialogServices
from callcenter.ivr.lockout import IdentityLockout
from callcenter.ivr.plugin import Ivr
from callcenter.ivr.queue_handoff import QueueRouting
from callcenter.monitoring import plugin as monitoring_plugin
from callcenter.monitoring.plugin import Monitoring
from callcenter.outbound import plugin as outbound_plugin
from callcenter.outbound.plugin import Outbound
from callcenter.outbound.question_prompts import campaign_sounds_dir
from callcenter.recording import plugin as recording_plugin
from callcenter.recording.plugin import Recordings
from callcenter.server.files import secure_data_files
from callcenter.server.lifecycle import Lifecycle
from callcenter.settings import Settings, WebSettings
from callcenter.slots import plugin as slots_plugin
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService
from hcrm_core.services.slot_keeper import SlotKeeper
from web_console.app import create_app
from web_console.deps import ConsoleDeps

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Server:
    """What the root started, for whoever runs the process (``run.py``, the demo's job, tests).

    No slice and not the console receive it: each got its own dependencies when it started.
    """

    settings: Settings
    database: Database
    bus: EventBus
    call_log: CallLogWriter
    calls: CallTracker
    patients: PatientService
    scheduling: SchedulingService
    appointments: AppointmentService
    desk: AgentDesk
    board: Board
    recordings: Recordings
    monitoring: Monitoring
    outbound: Outbound
    callbacks: Callbacks
    ami: AmiBridge
    ivr: Ivr
    agi: FastAgiServer
    lifecycle: Lifecycle
    # Events to and from the other processes on the same PostgreSQL (idle on SQLite).
    relay: EventRelay | IdleRelay = field(default_factory=IdleRelay)
    # Whether this process leads (dials, places callbacks, runs the nightly jobs), and its epoch.
    leadership: LeaderElection | None = None

    def console_deps(self) -> ConsoleDeps:
        """What the web console uses, typed (see :mod:`web_console.deps`)."""
        return ConsoleDeps(
            settings=self.settings,
            database=self.database,
            bus=self.bus,
            patients=self.patients,
            scheduling=self.scheduling,
            appointments=self.appointments,
            desk=self.desk,
            calls=self.calls,
            call_log=self.call_log,
            board=self.board.service,
            monitoring=self.monitoring.service,
            campaigns=self.outbound.campaigns,
            campaign_prompts=self.outbound.prompts,
            ami_health=self.ami,
            agi_health=self.agi,
            recordings_health=self.recordings,
            leadership_health=self.leadership,
            relay_health=self.relay,
        )

    async def stop(self) -> None:
        """Stop every part in reverse start order (see the module's docstring)."""
        await self.lifecycle.stop()


async def start_server(
    settings: Settings, *, seed_demo: bool = False, serve_console: bool = True
) -> Server:
    """Migrate the database, then start every part in order; with ``serve_console`` the
    console listens on ``web.host:web.port`` (tests serve it themselves from
    :meth:`Server.console_deps`). If a part fails to start (a bad speech model, the FastAGI
    port taken), those already started are stopped in reverse order before the error goes up.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade_async(settings.database_migrate_url)
    # After the migration, which creates the SQLite file: its mode is what the WAL inherits.
    await asyncio.to_thread(secure_data_files, settings)
    lifecycle = Lifecycle()
    async with lifecycle.starting():
        server = await _start_parts(settings, lifecycle, seed_demo=seed_demo)
        if serve_console:
            await _serve_console(server.console_deps(), settings.web, lifecycle)
    return server


async def _start_parts(settings: Settings, life: Lifecycle, *, seed_demo: bool) -> Server:
    database = await _start_database(settings, life, seed_demo=seed_demo)
    policy = settings.booking_policy()
    patients = PatientService(database, policy)
    scheduling = SchedulingService(database, policy)
    appointments = AppointmentService(database, policy)
    bus = EventBus()
    life.started("bus", bus.close)
    calls, call_log = await _start_call_tracking(settings, life, bus, database, patients)
    # The slot horizon: extended now, before the IVR and the console, and nightly at
    # booking.nightly_at by the leader (below).
    horizon = await life.start(
        "slot horizon",
        slots_plugin.start(settings.booking, keeper=SlotKeeper(database, policy), nightly=False),
    )
    # Built now, connected below: every subscriber is in place before its first event.
    ami = AmiBridge(settings.ami, bus)
    desk = await life.start(
        "agent desk",
        agents_plugin.start(
            settings.agents,
            timezone=settings.tz,
            caller_id_number=settings.hospital.caller_id_number,
            phone_region=settings.hospital.phone_region,
            bus=bus,
            ami=ami,
            calls=calls,
            database=database,
            patients=patients,
            queues_conf_dir=settings.asterisk.config_dir,
            hospital_name=settings.hospital.name,
        ),
    )
    board = await life.start(
        "board",
        board_plugin.start(
            bus=bus,
            database=database,
            ami=ami,
            timezone=settings.hospital.timezone,
            alerts=settings.board,
            wrapup_max_seconds=settings.agents.wrapup_max_seconds,
        ),
    )
    recordings = await life.start(
        "recordings",
        recording_plugin.start(
            settings.recording,
            asterisk=settings.asterisk,
            data_dir=settings.data_dir,
            bus=bus,
            ami=ami,
            database=database,
        ),
    )
    desk.call_control.recording = recordings.service  # the desk's record/pause buttons
    monitoring = await life.start(
        "monitoring", monitoring_plugin.start(settings.recording, ami=ami)
    )
    # The dialer's events too: the first resync after connecting reconciles its calls.
    outbound = await life.start(
        "outbound events",
        outbound_plugin.start(
            settings.outbound,
            timezone=settings.tz,
            hospital_name=settings.hospital.name,
            caller_id_number=settings.hospital.caller_id_number,
            agent_wrapup_seconds=settings.agents.wrapup_seconds,
            policy=policy,
            bus=bus,
            ami=ami,
            database=database,
            appointments=appointments,
            sounds_dir=partial(campaign_sounds_dir, settings),
        ),
    )
    # Queue callbacks' events too: the first resync reconciles their placeholder calls.
    callbacks = await life.start(
        "callback events",
        callbacks_plugin.start(
            settings.callbacks,
            bus=bus,
            ami=ami,
            database=database,
            dial_channel=settings.outbound.dial_channel,
            agi_url=settings.outbound.agi_url or None,
        ),
    )
    # Before the AMI bridge and FastAGI: every subscriber is in place when the first event
    # from another process arrives, and IVR steps of dialogs still draining at a stop go out.
    relay = await life.start(
        "event relay",
        start_relay(settings.database_url, bus, (IvrProgress, QueuesChanged, DeskChanged)),
    )
    # Several processes on PostgreSQL: until it wins, this one follows, so the bridge's first
    # resync settles nothing the leader owns (the election starts below, with dialing).
    election = LeaderElection(database, node=node_name(settings.web.port))
    election.when_following(outbound.follow)
    election.when_following(callbacks.follow)
    if election.clustered:
        # Every process follows every agent's desk; what must happen once is the leader's:
        # the wrap-up hold and release, the state history (the console's websocket hub says
        # where an agent's cards are built: web_console/desk_relay.py).
        desk.agents.leads = desk.state_history.writes = lambda: election.is_leader
    await ami.start()
    life.started("AMI bridge", ami.stop)
    # Speech input loads its Vosk model here, once, in a worker thread (seconds).
    ivr = await life.start(
        "IVR speech",
        ivr_plugin.start(
            settings.speech,
            asterisk=settings.asterisk,
            bus=bus,
            patients=patients,
            scheduling=scheduling,
            appointments=appointments,
            timezone=settings.hospital.timezone,
            lockout=IdentityLockout(database, settings.ivr),
            ask_recording_consent=settings.recording.consent == "ask",
            after_hours=ivr_plugin.after_hours_services(database, settings),
            routing=QueueRouting(database),
            # Off: the key's route is not served, so the dialplan puts the caller back.
            callbacks=CallbackDialogServices(
                callbacks.service, patients, settings.hospital.phone_region
            )
            if settings.callbacks.enabled
            else None,
        ),
    )
    agi = FastAgiServer(settings.agi, {**ivr.routes, **outbound.routes}, speech=ivr.speech)
    await agi.start()
    life.started("FastAGI", agi.stop)
    # Campaign calls only once their dialogs can be served; stopped before the FastAGI drain.
    # What must happen once (dialing, callback placing, their reconcile, the nightly jobs)
    # runs on the leader only: this process on SQLite, the advisory lock's holder on
    # PostgreSQL (callcenter/cluster/leader.py). Started once FastAGI serves the dialogs.
    election.add("dialing", partial(outbound.start_dialing, election.fence), outbound.stop_dialing)
    election.add(
        "callback placing", partial(callbacks.start_placing, election.fence), callbacks.stop_placing
    )
    # A new leader settles what its predecessor left in Asterisk (the first login does too).
    election.add("leader resync", ami.publish_resync, _nothing)
    election.add(
        "nightly slot horizon", partial(horizon.start_nightly, election.fence), horizon.stop_nightly
    )
    recordings.processor.runs_retention = lambda: election.is_leader
    await election.start()
    life.started("leadership", election.stop)
    return Server(
        settings=settings,
        database=database,
        bus=bus,
        call_log=call_log,
        calls=calls,
        patients=patients,
        scheduling=scheduling,
        appointments=appointments,
        desk=desk,
        board=board,
        recordings=recordings,
        monitoring=monitoring,
        outbound=outbound,
        callbacks=callbacks,
        ami=ami,
        ivr=ivr,
        agi=agi,
        lifecycle=life,
        relay=relay,
        leadership=election,
    )


async def _nothing() -> None:
    return None


async def _start_database(settings: Settings, life: Lifecycle, *, seed_demo: bool) -> Database:
    database = Database(
        settings.database_url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    life.started("database", database.dispose)
    if seed_demo:
        await _seed_if_empty(settings, database)
    # Open SQLite's kept connections (a thread each) now, not during the first burst of calls
    # (benchmarks/README.md, ivr_load); a PostgreSQL pool's connections are cheaper to open.
    if database.dialect == "sqlite":
        await database.warm_up()
    return database


async def _start_call_tracking(
    settings: Settings,
    life: Lifecycle,
    bus: EventBus,
    database: Database,
    patients: PatientService,
) -> tuple[CallTracker, CallLogWriter]:
    """The call log writer, then the tracker that feeds it (subscribed before AMI connects,
    so no event of a call is missed)."""
    call_log = CallLogWriter(database)
    await call_log.start()
    life.started("call log", call_log.stop)
    calls = CallTracker(
        bus,
        call_log,
        database,
        patients,
        inbound_contexts=[CONTEXT_INBOUND],
        campaign_prefix=settings.outbound.channel_prefix,
    )
    await calls.start()
    life.started("tracker", calls.stop)
    return calls, call_log


async def _serve_console(deps: ConsoleDeps, settings: WebSettings, life: Lifecycle) -> None:
    from web_console.transport import server_tls_context

    # HTTPS when a certificate is configured (a bad one fails the start here); otherwise
    # plain HTTP (loopback, or behind a TLS-terminating proxy listed in web.trusted_proxies).
    tls = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        tls = server_tls_context(settings.tls_cert, settings.tls_key)
    runner = web.AppRunner(create_app(deps), access_log=None)
    await runner.setup()
    # The runner's cleanup closes the site and the app (its websockets and relays).
    life.started("web console", runner.cleanup)
    await web.TCPSite(runner, settings.host, settings.port, ssl_context=tls).start()


async def _seed_if_empty(settings: Settings, database: Database) -> None:
    from hcrm_core.seed import DemoAlreadySeeded, seed_demo

    try:
        summary = await seed_demo(database, settings.booking_policy())
    except DemoAlreadySeeded:
        _LOG.info("demo data already present; not seeding")
        return
    _LOG.info("seeded %s", summary)
