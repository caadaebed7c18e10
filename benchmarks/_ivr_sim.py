"""The simulated hospital and patients of ``benchmarks/ivr_load.py``.

A scratch hospital (departments, doctors, free slots, one patient per call), and the callers:
each a ``Local/s@sim-patient`` call originated into ``hospital-inbound`` whose keys a driver AMI
session sends on cue (``AGIExecStart``), and the checks of what the calls booked.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

from pydantic import SecretStr
from sqlalchemy import select, update

from callcenter.ami.bridge import AmiBridge
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.bus import EventBus
from callcenter.ivr import prompts
from callcenter.settings import Settings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import Appointment, Channel, Department, Doctor, ScheduleTemplate, Sex, Slot
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.patients import NewPatient, NewPhone, PatientService
from hcrm_core.services.scheduling import SchedulingService

CALL_TIMEOUT = 900.0


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
    from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
    from callcenter.ivr.build_prompts import language_prompts

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
