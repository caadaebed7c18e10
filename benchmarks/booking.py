"""Booking throughput and phone-lookup latency of the HCRM core, on SQLite and PostgreSQL.

Targets (from the issue): at least 300 bookings/s on PostgreSQL with 20 concurrent clients,
and phone lookup p99 under 5 ms with 100,000 patients. Each figure is printed next to a
baseline measured in the same run on the same database, so the ratio shows what the service
path costs over the bare database work:

- bookings: ``AppointmentService.book`` (checks, insert, audit row, read-back) against one
  bare Core ``INSERT`` of an equivalent appointment row per transaction, same concurrency;
- lookups: ``PatientService.find_by_phone`` on numbers in the formats people type, against a
  bare indexed ``SELECT patient_id FROM patient_phones WHERE e164 = :x``, interleaved.

Run: ``.venv/bin/python -m benchmarks.booking [--engine sqlite|postgresql|both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import exists, func, insert, select, text

from benchmarks._common import (
    Figure,
    default_pg_url,
    percentile,
    print_figures,
    progress_printer,
    scratch_database,
)
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import DomainError, InvalidPhoneNumber
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AuditEvent,
    Channel,
    Patient,
    PatientPhone,
    Slot,
)
from hcrm_core.phones import to_e164
from hcrm_core.policy import BookingPolicy
from hcrm_core.seed import SCHEDULE_DAYS, seed_demo
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService

BOOKINGS_PER_S_TARGET = 300.0  # on PostgreSQL
LOOKUP_P99_TARGET_MS = 5.0
WARMUP_LOOKUPS = 100
# Slots this close to now or to the horizon are skipped, so no booking turns into
# BookingInPast or BeyondHorizon while the benchmark runs.
SLOT_MARGIN = timedelta(days=1)
LOOKUP_SQL = text("SELECT patient_id FROM patient_phones WHERE e164 = :e164")


@dataclass(frozen=True, slots=True)
class Work:
    """One booking to make: a free slot and a patient with no active appointment."""

    patient_id: int
    slot: Slot


@dataclass(slots=True)
class Run:
    """The outcome of one timed batch of bookings."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of this process: the Python side of the work
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


# -- setting up ----------------------------------------------------------------------------


async def prepare(
    engine: str, url: str, policy: BookingPolicy, args: argparse.Namespace
) -> Database:
    started = time.perf_counter()
    await upgrade_async(url)
    database = Database(url, pool_size=args.clients)
    summary = await seed_demo(
        database,
        policy,
        patients=args.patients,
        seed=args.seed,
        progress=progress_printer(f"seeding {engine}"),
    )
    print(f"  {summary} ({time.perf_counter() - started:.0f} s)", flush=True)
    return database


async def free_slots(database: Database, policy: BookingPolicy) -> list[Slot]:
    now = datetime.now(UTC)
    booked = exists().where(
        Appointment.slot_id == Slot.id, Appointment.status == AppointmentStatus.BOOKED
    )
    async with database.session() as session:
        rows = await session.scalars(
            select(Slot)
            .where(
                Slot.available.is_(True),
                Slot.starts_at > now + SLOT_MARGIN,
                Slot.starts_at < now + timedelta(days=policy.horizon_days) - SLOT_MARGIN,
                ~booked,
            )
            .order_by(Slot.id)
        )
        return list(rows)


async def enough_slots(database: Database, policy: BookingPolicy, needed: int) -> list[Slot]:
    """Free slots, expanding the schedules further ahead (within the horizon) until enough."""
    scheduling = SchedulingService(database, policy)
    today = datetime.now(policy.timezone).date()
    expanded_to = SCHEDULE_DAYS - 1
    slots = await free_slots(database, policy)
    while len(slots) < needed and expanded_to < policy.horizon_days - 2:
        first = today + timedelta(days=expanded_to + 1)
        expanded_to = min(expanded_to + SCHEDULE_DAYS, policy.horizon_days - 2)
        await scheduling.expand_slots(first, today + timedelta(days=expanded_to))
        slots = await free_slots(database, policy)
    return slots


async def free_patients(database: Database, count: int) -> list[int]:
    """Active patients without any active appointment: no booking can break a per-day rule."""
    booked = exists().where(
        Appointment.patient_id == Patient.id, Appointment.status == AppointmentStatus.BOOKED
    )
    async with database.session() as session:
        rows = await session.scalars(
            select(Patient.id)
            .where(Patient.active.is_(True), ~booked)
            .order_by(Patient.id)
            .limit(count)
        )
        return list(rows)


async def plan_bookings(
    database: Database, policy: BookingPolicy, args: argparse.Namespace, rng: random.Random
) -> tuple[list[Work], list[Work], list[Work], list[Work]]:
    """Distinct slots and patients for: service warm-up, service, baseline warm-up, baseline."""
    warmup = args.clients
    slots = await enough_slots(database, policy, 2 * (args.bookings + warmup))
    per_path = min(args.bookings, len(slots) // 2 - warmup)
    if per_path < args.bookings:
        print(f"  only {len(slots)} free slots: {per_path} bookings per path", flush=True)
    rng.shuffle(slots)
    patients = await free_patients(database, len(slots))
    work = [Work(p, s) for p, s in zip(patients, slots, strict=False)]
    half = warmup + per_path
    return (
        work[:warmup],
        work[warmup:half],
        work[half : half + warmup],
        work[half + warmup : half + warmup + per_path],
    )


# -- bookings ------------------------------------------------------------------------------


async def run_concurrently(
    items: list[Work], clients: int, book: Callable[[Work], Awaitable[object]]
) -> Run:
    """``clients`` tasks take the next item from one shared list until it is exhausted."""
    run = Run()
    queue: Iterator[Work] = iter(items)

    async def client() -> None:
        for item in queue:
            started = time.perf_counter()
            try:
                await book(item)
            except DomainError as exc:
                run.failures[type(exc).__name__] += 1
                continue
            run.latencies.append(time.perf_counter() - started)

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    run.seconds = time.perf_counter() - started
    run.cpu_seconds = time.process_time() - cpu_started
    return run


def service_booker(
    database: Database, policy: BookingPolicy
) -> Callable[[Work], Awaitable[object]]:
    service = AppointmentService(database, policy)

    def book(item: Work) -> Awaitable[object]:
        return service.book(
            BookingRequest(
                patient_id=item.patient_id,
                slot_id=item.slot.id,
                channel=Channel.AGENT,
                actor=Actor.system(),
                reason="benchmark",
            )
        )

    return book


def bare_inserter(database: Database) -> Callable[[Work], Awaitable[object]]:
    """One Core INSERT of the row the service would write, in its own transaction."""
    codes = iter(range(10**7))
    statement = insert(Appointment.__table__)  # type: ignore[arg-type]

    async def book(item: Work) -> None:
        slot = item.slot
        row = {
            "patient_id": item.patient_id,
            "doctor_id": slot.doctor_id,
            "department_id": slot.department_id,
            "slot_id": slot.id,
            "starts_at": slot.starts_at,
            "ends_at": slot.ends_at,
            "local_date": slot.local_date,
            "status": AppointmentStatus.BOOKED,
            "channel": Channel.AGENT,
            # A letter no service code has: the two paths can never collide.
            "confirmation_code": f"B{next(codes):07d}",
            "reason": "benchmark",
            "booked_at": datetime.now(UTC),
        }
        async with database.write_engine.begin() as connection:
            await connection.execute(statement, row)

    return book


async def booking_counts(database: Database) -> tuple[int, int, int]:
    """Active appointments, appointment audit rows, and slots holding more than one booking."""
    active = Appointment.status == AppointmentStatus.BOOKED
    doubled = (
        select(Appointment.slot_id)
        .where(active)
        .group_by(Appointment.slot_id)
        .having(func.count() > 1)
        .subquery()
    )
    async with database.session() as session:
        booked = await session.scalar(select(func.count()).select_from(Appointment).where(active))
        audited = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "appointment")
        )
        double = await session.scalar(select(func.count()).select_from(doubled))
    return booked or 0, audited or 0, double or 0


async def checked_run(
    database: Database,
    label: str,
    items: list[Work],
    clients: int,
    book: Callable[[Work], Awaitable[object]],
    *,
    audits: bool,
) -> Run:
    """Run the bookings and check the database agrees with what the clients were told."""
    before, audited_before, _ = await booking_counts(database)
    run = await run_concurrently(items, clients, book)
    after, audited_after, doubled = await booking_counts(database)
    problems = []
    if after - before != run.done:
        problems.append(f"{after - before} new active appointments for {run.done} successes")
    if audits and audited_after - audited_before != run.done:
        problems.append(f"{audited_after - audited_before} audit rows for {run.done} bookings")
    if doubled:
        problems.append(f"{doubled} slots double-booked")
    if run.failures:
        problems.append(f"refusals: {dict(run.failures)}")
    status = "; ".join(problems) or "counts match, no slot double-booked"
    print(
        f"  {label}: {run.done} in {run.seconds:.2f} s = {run.per_second:.0f}/s, "
        f"p50 {percentile(run.latencies, 50) * 1e3:.1f} ms, "
        f"p99 {percentile(run.latencies, 99) * 1e3:.1f} ms, "
        f"client CPU {run.cpu_seconds / max(run.done, 1) * 1e3:.2f} ms each; {status}",
        flush=True,
    )
    if problems and (after - before != run.done or doubled):
        raise SystemExit(f"{label}: database disagrees with the clients: {status}")
    return run


async def bench_bookings(
    engine: str,
    database: Database,
    policy: BookingPolicy,
    args: argparse.Namespace,
    rng: random.Random,
) -> list[Figure]:
    warm_service, service_work, warm_bare, bare_work = await plan_bookings(
        database, policy, args, rng
    )
    by_service, by_insert = service_booker(database, policy), bare_inserter(database)
    await run_concurrently(warm_service, args.clients, by_service)
    await run_concurrently(warm_bare, args.clients, by_insert)
    service = await checked_run(
        database, "service bookings", service_work, args.clients, by_service, audits=True
    )
    bare = await checked_run(
        database, "bare inserts", bare_work, args.clients, by_insert, audits=False
    )
    measure = f"bookings/s, {args.clients} clients"
    is_pg = engine == "postgresql"
    return [
        Figure(
            engine,
            measure,
            f"{service.per_second:.0f}",
            f"{bare.per_second:.0f}",
            f"{service.per_second / bare.per_second:.2f}x",
            target=f">= {BOOKINGS_PER_S_TARGET:.0f}/s" if is_pg else "-",
            passed=service.per_second >= BOOKINGS_PER_S_TARGET if is_pg else None,
        ),
        Figure(
            engine,
            "booking latency p99 (ms)",
            f"{percentile(service.latencies, 99) * 1e3:.1f}",
            f"{percentile(bare.latencies, 99) * 1e3:.1f}",
            f"{percentile(service.latencies, 99) / percentile(bare.latencies, 99):.2f}x",
        ),
    ]


# -- phone lookups -------------------------------------------------------------------------


def typed_forms(raw: str, e164: str, region: str) -> list[str]:
    """The ways a person might type this stored number; each one normalises to ``e164``."""
    number = phonenumbers.parse(e164)
    digits = e164.lstrip("+")
    candidates = [
        raw,
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        e164,
        f"00{digits}",
        f" {digits[:3]}-{digits[3:6]}-{digits[6:]} ",
    ]
    forms = []
    for form in candidates:
        try:
            if to_e164(form, region) == e164:
                forms.append(form)
        except InvalidPhoneNumber:
            continue
    return forms or [raw]


async def lookup_sample(
    database: Database, policy: BookingPolicy, count: int, rng: random.Random
) -> list[tuple[str, str, int]]:
    """(typed number, E.164, patient id) for ``count`` stored phones of active patients."""
    async with database.session() as session:
        rows = list(
            await session.execute(
                select(PatientPhone.raw, PatientPhone.e164, PatientPhone.patient_id)
                .join(Patient, Patient.id == PatientPhone.patient_id)
                .where(Patient.active.is_(True))
            )
        )
    chosen = rng.sample(rows, min(count, len(rows)))
    return [
        (rng.choice(typed_forms(row.raw, row.e164, policy.phone_region)), row.e164, row.patient_id)
        for row in chosen
    ]


async def bench_lookups(
    engine: str,
    database: Database,
    policy: BookingPolicy,
    args: argparse.Namespace,
    rng: random.Random,
) -> list[Figure]:
    sample = await lookup_sample(database, policy, args.lookups + WARMUP_LOOKUPS, rng)
    service = PatientService(database, policy)
    service_ms: list[float] = []
    bare_ms: list[float] = []
    misses = 0
    # Interleaved, one at a time: both see the same machine noise, and p99 is latency.
    for n, (typed, e164, patient_id) in enumerate(sample):
        started = time.perf_counter()
        found = await service.find_by_phone(typed)
        middle = time.perf_counter()
        async with database.read_engine.connect() as connection:
            (await connection.execute(LOOKUP_SQL, {"e164": e164})).all()
        ended = time.perf_counter()
        if n < WARMUP_LOOKUPS:
            continue
        service_ms.append((middle - started) * 1e3)
        bare_ms.append((ended - middle) * 1e3)
        misses += patient_id not in {p.id for p in found}
    print(
        f"  phone lookups: {len(service_ms)} sequential, {misses} missed the patient; "
        f"service p50 {percentile(service_ms, 50):.2f} ms p99 {percentile(service_ms, 99):.2f}"
        f" ms; bare p50 {percentile(bare_ms, 50):.2f} ms p99 {percentile(bare_ms, 99):.2f} ms",
        flush=True,
    )
    if misses:
        raise SystemExit(f"{engine}: {misses} lookups did not find the patient they belong to")
    p99, bare_p99 = percentile(service_ms, 99), percentile(bare_ms, 99)
    measure = f"phone lookup p50 (ms), {args.patients:,} patients"
    return [
        Figure(
            engine,
            measure,
            f"{percentile(service_ms, 50):.2f}",
            f"{percentile(bare_ms, 50):.2f}",
            f"{percentile(service_ms, 50) / percentile(bare_ms, 50):.1f}x",
        ),
        Figure(
            engine,
            f"phone lookup p99 (ms), {args.patients:,} patients",
            f"{p99:.2f}",
            f"{bare_p99:.2f}",
            f"{p99 / bare_p99:.1f}x",
            target=f"< {LOOKUP_P99_TARGET_MS:.0f} ms",
            passed=p99 < LOOKUP_P99_TARGET_MS,
        ),
    ]


# -- main ----------------------------------------------------------------------------------


async def bench_engine(engine: str, args: argparse.Namespace) -> list[Figure]:
    policy = BookingPolicy(timezone=ZoneInfo("America/New_York"), phone_region="US")
    print(f"\n[{engine}]", flush=True)
    async with scratch_database(engine, args.pg_url) as url:
        database = await prepare(engine, url, policy, args)
        try:
            rng = random.Random(args.seed)
            figures = await bench_bookings(engine, database, policy, args, rng)
            figures += await bench_lookups(engine, database, policy, args, rng)
        finally:
            await database.dispose()
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20, help="concurrent booking clients")
    parser.add_argument("--bookings", type=int, default=2000, help="timed bookings per path")
    parser.add_argument("--lookups", type=int, default=2000, help="timed phone lookups")
    parser.add_argument("--seed", type=int, default=2026, help="RNG seed for data and sampling")
    parser.add_argument(
        "--pg-url",
        default=default_pg_url(),
        help="server to create the scratch bench_* database on "
        "(default: $CALLCENTER_TEST_PG_URL or local postgres)",
    )
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    figures: list[Figure] = []
    for engine in engines:
        figures += await bench_engine(engine, args)
    print_figures(f"booking benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", figures)
    return 1 if any(f.passed is False for f in figures) else 0


if __name__ == "__main__":
    import uvloop

    # The server runs on uvloop (callcenter serve), so the benchmark does too.
    sys.exit(uvloop.run(main()))
