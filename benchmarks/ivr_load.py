"""IVR under load: concurrent simulated patients booking through the sandbox Asterisk.

Each simulated patient is a ``Local/s@sim-patient`` call originated into ``hospital-inbound``
(the production dialplan). A driver AMI session answers the IVR on cue (``AGIExecStart``):
the date of birth at ``GET DATA``, and each menu's key as soon as the menu starts playing (the
key interrupts it, as an impatient caller's would); the patient's ``;2`` half sends the keys
(``SIM_DIGITS`` set, then Redirected to ``sim-patient,s,1``, which runs ``SendDTMF``):
"book", a department, "first available", one of the three offered slots at random, "confirm".
A slot taken by another caller meanwhile is apologised for and the next ones are offered, as in
production.

Two runs on fresh scratch databases, the same patients:

- **FastAGI**: the server's routes in a separate process (``--serve``), as ``callcenter serve``
  runs them. Its CPU time is read from ``/proc/<pid>/stat`` just before the first call and
  after the last; it also reports the round trip of every AGI command (sent -> reply, measured
  inside the server by ``AgiLatency``), p50/p99 of the commands Asterisk answers at once.
- **Classic AGI**: the same dialog as ``callcenter-agi``, one process per call (pyst2 over
  stdin/stdout, relayed from the chroot: tests/classic_agi_bridge.py). CPU time is the reaped
  children's (``RUSAGE_CHILDREN``): start-up, imports, database connection and the dialog.

Checks after each run: every call booked exactly one appointment, all slots distinct, channel
``ivr``, ``booked_call_id`` the call's Linkedid. Targets: classic/FastAGI CPU per call >= 10x,
immediate-command p99 < 20 ms.

Run (root, the sandbox): ``.venv/bin/python -m benchmarks.ivr_load [--calls 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select, update

from benchmarks._common import Figure, default_pg_url, percentile, print_figures, scratch_database
from callcenter.ami import AmiBridge
from callcenter.ami_events import AmiEvent
from callcenter.asterisk import const
from callcenter.events import EventBus
from callcenter.ivr import prompts
from callcenter.settings import AgiSettings, Settings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import Appointment, Channel, Department, Doctor, ScheduleTemplate, Sex, Slot
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.patients import NewPatient, NewPhone, PatientService
from hcrm_core.services.scheduling import SchedulingService

CPU_RATIO_TARGET = 10.0
P99_TARGET_MS = 20.0
CALL_TIMEOUT = 900.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Patient:
    phone: str
    dob_keys: str
    department_key: str


# -- the scratch hospital ----------------------------------------------------------------------


async def seed(url: str, calls: int, departments: int, rng: random.Random) -> list[Patient]:
    """Departments with two doctors each (weekday 09:00-12:00), ``calls`` patients."""
    await upgrade_async(url)
    database = Database(url)
    policy = BookingPolicy(timezone=UTC)
    try:
        async with database.transaction() as session:
            for n in range(1, departments + 1):
                department = Department(code=f"BD{n}", name=f"Clinic {n}", menu_order=n)
                session.add(department)
                await session.flush()
                for given in ("Ann", "Bob"):
                    doctor = Doctor(
                        department_id=department.id,
                        given_name=given,
                        family_name=f"Clinic{n}",
                        specialty="General",
                    )
                    session.add(doctor)
                    await session.flush()
                    session.add_all(
                        ScheduleTemplate(
                            doctor_id=doctor.id,
                            weekday=day,
                            start_time=clock(9),
                            end_time=clock(12),
                            slot_minutes=15,
                        )
                        for day in range(5)
                    )
        today = datetime.now(UTC).date()
        await SchedulingService(database, policy).expand_slots(today, today + timedelta(days=28))
        async with database.transaction() as session:
            await session.execute(  # nothing may slip into the past while callers listen
                update(Slot)
                .where(Slot.starts_at < datetime.now(UTC) + timedelta(days=1))
                .values(available=False)
            )
        patients = []
        service = PatientService(database, policy)
        for n in range(calls):
            dob = date(1940, 1, 1) + timedelta(days=rng.randint(0, 20000))
            phone = f"+1212555{n:04d}"
            await service.create(
                NewPatient(
                    mrn=f"BENCH{n:05d}",
                    given_name="Bench",
                    family_name=f"Caller{n}",
                    date_of_birth=dob,
                    sex=Sex.FEMALE,
                    phones=[NewPhone(phone)],
                ),
                Actor.system(),
                today,
            )
            key = str(rng.randint(1, min(departments, 8)))
            patients.append(Patient(phone, dob.strftime("%d%m%Y"), key))
        return patients
    finally:
        await database.dispose()


async def render_prompts(settings: Settings, url: str) -> None:
    from callcenter.ivr.build_prompts import build_prompts, language_prompts, sounds_language_dir

    database = Database(url)
    try:
        scheduling = SchedulingService(database, BookingPolicy(timezone=UTC))
        departments = await scheduling.list_departments()
        doctors = await scheduling.list_doctors()
    finally:
        await database.dispose()
    target = sounds_language_dir(settings, sandbox=True, language=prompts.ENGLISH)
    await asyncio.to_thread(
        build_prompts, language_prompts(prompts.ENGLISH, departments, doctors), target
    )


async def check_bookings(url: str, linkedids: set[str], calls: int) -> list[str]:
    """What is wrong with the bookings (empty: every call booked once, all distinct)."""
    database = Database(url)
    try:
        async with database.session() as session:
            rows = list(await session.scalars(select(Appointment)))
    finally:
        await database.dispose()
    problems = []
    if len(rows) != calls:
        problems.append(f"{len(rows)} appointments for {calls} calls")
    if len({a.slot_id for a in rows}) != len(rows):
        problems.append("a slot was booked twice")
    if len({a.patient_id for a in rows}) != len(rows):
        problems.append("a patient booked twice")
    if any(a.channel != Channel.IVR for a in rows):
        problems.append("an appointment not made through the IVR")
    booked_by = {a.booked_call_id for a in rows}
    if booked_by != linkedids:
        problems.append(f"{len(linkedids - booked_by)} calls without their booking")
    return problems


# -- simulated patients ------------------------------------------------------------------------


@dataclass
class Callers:
    """Answers every call's IVR on cue; knows which patient each Linkedid is."""

    driver: AmiBridge
    rng: random.Random
    by_linkedid: dict[str, Patient] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    all_ended: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def answer_for(self, patient: Patient, verb: str, sound: str) -> str | None:
        if verb == "GET DATA" and sound == prompts.ASK_DOB:
            return patient.dob_keys
        menus = {
            prompts.MAIN_MENU: "1",
            prompts.DEPARTMENTS_INTRO: patient.department_key,
            prompts.DOCTOR_MENU: "1",
            prompts.CONFIRM_SLOT: "1",
        }
        if sound == prompts.NEXT_SLOTS:
            return str(self.rng.randint(1, 3))
        return menus.get(sound)

    async def on_event(self, event: AmiEvent) -> None:
        if event.name == "Hangup":
            if event.uniqueid in self.by_linkedid:
                self.ended.add(event.uniqueid)
                if len(self.ended) == len(self.by_linkedid):
                    self.all_ended.set()
            return
        patient = self.by_linkedid.get(event.linkedid)
        words = event.get("Command").split()
        if patient is None or not event.channel.endswith(";1") or len(words) < 3:
            return
        verb = " ".join(words[:2])
        if verb not in ("GET DATA", "STREAM FILE"):
            return
        keys = self.answer_for(patient, verb, words[2])
        if keys:
            task = asyncio.create_task(self._press(event.channel[:-1] + "2", keys))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _press(self, peer: str, keys: str) -> None:
        # The patient's own dialplan sends the keys (SendDTMF in sim-patient,s): AMI PlayDTMF
        # would hold the driver's AMI session for each digit's duration, 800 digits in a row.
        await self.driver.send_action(
            {"Action": "Setvar", "Channel": peer, "Variable": "SIM_DIGITS", "Value": keys}
        )
        await self.driver.send_action(
            {
                "Action": "Redirect",
                "Channel": peer,
                "Context": const.CONTEXT_SIM_PATIENT,
                "Exten": "s",
                "Priority": "1",
            }
        )


async def run_calls(
    settings: Settings,
    patients: Sequence[Patient],
    agi_target: str,
    rng: random.Random,
    ramp: float = 0.0,
) -> tuple[set[str], float]:
    """Originate one call per patient (all at once, or spread over ``ramp`` seconds); returns
    their Linkedids and the wall time."""
    from callcenter.asterisk.render import sim_driver_user

    ami = settings.ami.model_copy(
        update={
            "username": const.SIM_DRIVER_USERNAME,
            "secret": SecretStr(sim_driver_user(settings).secret),
        }
    )
    bus = EventBus()
    driver = AmiBridge(ami, bus)
    callers = Callers(driver, rng)
    bus.subscribe(
        AmiEvent,
        callers.on_event,
        name="bench-callers",
        predicate=lambda e: e.name in ("AGIExecStart", "Hangup"),
        maxsize=1_000_000,
    )
    await driver.start()
    started = time.perf_counter()
    try:
        await driver.wait_ready(20)
        for patient in patients:
            linkedid = f"ivrload-{uuid.uuid4().hex[:12]}"
            callers.by_linkedid[linkedid] = patient
            await driver.originate(
                f"Local/s@{const.CONTEXT_SIM_PATIENT}",
                context=const.CONTEXT_INBOUND,
                exten="s",
                caller_id=f'"Bench" <{patient.phone}>',
                channel_id=linkedid,
                variables={"SIM_HOLD": "600", "CALLCENTER_AGI": agi_target},
            )
            if ramp:
                await asyncio.sleep(ramp / len(patients))
        async with asyncio.timeout(CALL_TIMEOUT):
            await callers.all_ended.wait()
    finally:
        await driver.stop()
        await bus.close()
    return set(callers.by_linkedid), time.perf_counter() - started


# -- the FastAGI server, in its own process ----------------------------------------------------


async def serve(url: str, stats_file: Path) -> None:
    """``--serve``: the IVR routes on FastAGI until SIGTERM; then the latencies to a file."""
    from callcenter.ivr.routes import build_routes
    from callcenter.ivr.server import FastAgiServer
    from hcrm_core.services.appointments import AppointmentService

    database = Database(url)
    policy = BookingPolicy(timezone=UTC)
    bus = EventBus()
    routes = build_routes(
        bus,
        patients=PatientService(database, policy),
        scheduling=SchedulingService(database, policy),
        appointments=AppointmentService(database, policy),
        timezone="UTC",
    )
    # A running server has its connections open and its statements compiled: warm them the
    # way the first call would, so the figures are the steady state, not the first second.
    patients, scheduling = PatientService(database, policy), SchedulingService(database, policy)
    await patients.find_by_phone("+12125550000")
    for department in await scheduling.list_departments():
        await scheduling.next_free_slots(department_id=department.id, limit=3)
    server = FastAgiServer(AgiSettings(port=0), routes)
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(server.port, flush=True)
    await stop.wait()
    await server.stop()
    stats = {
        "immediate": server.latency.immediate(),
        "verbs": server.latency.verbs(),
        "slowest": {
            verb: round(max(server.latency.samples([verb])) * 1000, 2)
            for verb in server.latency.verbs()
        },
        "sessions": server.sessions_started,
        "failed": server.sessions_failed,
    }
    await asyncio.to_thread(stats_file.write_text, json.dumps(stats))
    await bus.close()
    await database.dispose()


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


async def run_fastagi(
    settings: Settings, url: str, patients: Sequence[Patient], rng: random.Random, ramp: float
) -> dict[str, object]:
    stats_file = Path(tempfile.mkdtemp(prefix="ivrload_")) / "stats.json"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.ivr_load",
        "--serve",
        url,
        "--stats-file",
        str(stats_file),
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdout is not None
    port = int((await server.stdout.readline()).decode())
    cpu_before = process_cpu(server.pid)
    target = f"agi://127.0.0.1:{port}"
    linkedids, seconds = await run_calls(settings, patients, target, rng, ramp)
    cpu = process_cpu(server.pid) - cpu_before
    server.send_signal(signal.SIGTERM)
    await server.wait()
    stats = json.loads(stats_file.read_text())
    return {"linkedids": linkedids, "seconds": seconds, "cpu": cpu, **stats}


async def run_classic(
    settings: Settings, url: str, patients: Sequence[Patient], rng: random.Random, ramp: float
) -> dict[str, object]:
    from tests.classic_agi_bridge import children_cpu_seconds, classic_agi, classic_env

    env = classic_env(url, Path(tempfile.mkdtemp(prefix="ivrload_")))
    cpu_before = children_cpu_seconds()
    async with classic_agi(settings.asterisk.sandbox_dir / "root", env) as (spawner, agi_dir):
        linkedids, seconds = await run_calls(settings, patients, agi_dir, rng, ramp)
        await spawner.idle(60)
    return {
        "linkedids": linkedids,
        "seconds": seconds,
        "cpu": children_cpu_seconds() - cpu_before,
        "processes": spawner.started,
        "failed": sum(1 for code in spawner.exit_codes if code != 0),
    }


# -- the benchmark -----------------------------------------------------------------------------


async def run_mode(
    mode: str, settings: Settings, args: argparse.Namespace
) -> tuple[dict[str, object], list[str]]:
    rng = random.Random(args.seed)
    async with scratch_database(args.engine, args.pg_url) as url:
        patients = await seed(url, args.calls, args.departments, rng)
        await render_prompts(settings, url)
        print(f"  {mode}: {args.calls} calls ...", flush=True)
        runner = run_fastagi if mode == "fastagi" else run_classic
        result = await runner(settings, url, patients, rng, args.ramp)
        problems = await check_bookings(url, result["linkedids"], args.calls)  # type: ignore[arg-type]
    print(
        f"  {mode}: {result['seconds']:.0f} s, CPU {result['cpu']:.2f} s, "
        f"problems: {problems or 'none'}",
        flush=True,
    )
    return result, problems


async def main_async(args: argparse.Namespace) -> int:
    from callcenter.asterisk.sandbox import AsteriskSandbox
    from tests.asterisk_sandbox import _shared_by_sessions, sandbox_test_settings

    settings = sandbox_test_settings(Path(tempfile.mkdtemp(prefix="ivrload_")))
    sandbox = AsteriskSandbox(settings)
    # Held like a test session's: the last session to finish stops the shared Asterisk, and
    # this run counts as one.
    with _shared_by_sessions(sandbox.base):
        await asyncio.to_thread(sandbox.start)
        fast, fast_problems = await run_mode("fastagi", settings, args)
        if args.fastagi_only:
            return report_fastagi(fast, fast_problems, args)
        classic, classic_problems = await run_mode("classic", settings, args)
    calls = args.calls
    fast_cpu = float(fast["cpu"]) / calls  # type: ignore[arg-type]
    classic_cpu = float(classic["cpu"]) / calls  # type: ignore[arg-type]
    latencies = [s * 1000 for s in fast["immediate"]]  # type: ignore[attr-defined]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    ratio = classic_cpu / fast_cpu if fast_cpu else float("inf")
    figures = [
        Figure(
            args.engine,
            "CPU s per booking call",
            f"{fast_cpu:.3f}",
            f"{classic_cpu:.3f}",
            f"{ratio:.1f}x less",
            f">= {CPU_RATIO_TARGET:.0f}x",
            ratio >= CPU_RATIO_TARGET,
        ),
        Figure(args.engine, "AGI round trip p50 (ms)", f"{p50:.2f}", "-", "-"),
        Figure(
            args.engine,
            "AGI round trip p99 (ms)",
            f"{p99:.2f}",
            "-",
            "-",
            f"< {P99_TARGET_MS:.0f} ms",
            p99 < P99_TARGET_MS,
        ),
        Figure(
            args.engine,
            f"wall time, {calls} calls (s)",
            f"{fast['seconds']:.0f}",
            f"{classic['seconds']:.0f}",
            "-",
        ),
    ]
    print_figures(
        f"IVR load: {calls} concurrent booking calls; service = FastAGI server, "
        "baseline = classic AGI process per call",
        figures,
    )
    print(
        f"  immediate commands measured: {len(latencies)}; commands {fast['verbs']}, "
        f"slowest (ms) {fast['slowest']}; "
        f"FastAGI sessions {fast['sessions']} (failed {fast['failed']}); "
        f"classic processes {classic['processes']} (failed {classic['failed']})"
    )
    ok = not fast_problems and not classic_problems and all(f.passed is not False for f in figures)
    return 0 if ok else 1


def report_fastagi(fast: dict[str, object], problems: list[str], args: argparse.Namespace) -> int:
    latencies = [s * 1000 for s in fast["immediate"]]  # type: ignore[attr-defined]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    cpu = float(fast["cpu"]) / args.calls  # type: ignore[arg-type]
    figures = [
        Figure(args.engine, "CPU s per booking call", f"{cpu:.3f}", "-", "-"),
        Figure(args.engine, "AGI round trip p50 (ms)", f"{p50:.2f}", "-", "-"),
        Figure(
            args.engine,
            "AGI round trip p99 (ms)",
            f"{p99:.2f}",
            "-",
            "-",
            f"< {P99_TARGET_MS:.0f} ms",
            p99 < P99_TARGET_MS,
        ),
    ]
    print_figures(
        f"IVR load (FastAGI only): {args.calls} calls started over {args.ramp:.0f} s", figures
    )
    print(f"  slowest (ms) {fast['slowest']}")
    return 0 if not problems and all(f.passed is not False for f in figures) else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--departments", type=int, default=8)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=default_pg_url())
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--ramp", type=float, default=0.0, help="spread the call starts over this many seconds"
    )
    parser.add_argument(
        "--fastagi-only", action="store_true", help="skip the classic AGI run (no CPU ratio)"
    )
    parser.add_argument("--serve", metavar="DB_URL", help=argparse.SUPPRESS)
    parser.add_argument("--stats-file", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import uvloop

    args = parse_args(argv)
    if args.serve:
        uvloop.run(serve(args.serve, args.stats_file))
        return 0
    return uvloop.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
