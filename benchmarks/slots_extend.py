"""Generating a year of slots: ``SlotKeeper.extend`` against a bare bulk insert, SQLite and PG.

Target (issue 14): ``callcenter slots extend`` for 30 doctors over 365 days (about 100k slots)
in under 10 s on SQLite and on PostgreSQL. The baseline, measured in the same run on the same
database, is a bare SQLAlchemy Core ``executemany`` INSERT of exactly the rows the keeper made
(precomputed, in one transaction): the ratio is what reading the schedules, expanding them in
the hospital's zone, checking exceptions and the existing slots, and skipping duplicates cost
over writing the rows. A second ``extend`` (nothing to create) is timed too: the nightly job.

Run: ``.venv/bin/python -m benchmarks.slots_extend [--engine sqlite|postgresql|both]
[--doctors 30] [--days 365]`` (PostgreSQL from ``--pg-url`` or ``CALLCENTER_TEST_PG_URL``).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select

from benchmarks._common import Figure, default_pg_url, print_figures, scratch_database
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import Department, Doctor, ScheduleTemplate, Slot
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.slot_keeper import SlotKeeper

TARGET_SECONDS = 10.0
DOCTORS_PER_DEPARTMENT = 5
# Monday to Friday 09:00-12:15 in 15-minute slots: 13 a day, about 100k a year for 30 doctors.
CLINIC = (clock_time(9), clock_time(12, 15), 15)
# A Monday: the year then holds 261 weekdays whatever the year.
START = datetime(2027, 1, 4, 11, 0, tzinfo=UTC)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=default_pg_url())
    parser.add_argument("--doctors", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    return parser.parse_args(argv)


async def make_doctors(database: Database, doctors: int) -> None:
    start, end, minutes = CLINIC
    async with database.transaction() as session:
        departments = [
            Department(code=f"D{n:02d}", name=f"Department {n}", menu_order=n)
            for n in range(-(-doctors // DOCTORS_PER_DEPARTMENT))
        ]
        session.add_all(departments)
        await session.flush()
        staff = [
            Doctor(
                department_id=departments[n // DOCTORS_PER_DEPARTMENT].id,
                given_name="Doc",
                family_name=f"Number{n}",
                specialty="General",
            )
            for n in range(doctors)
        ]
        session.add_all(staff)
        await session.flush()
        session.add_all(
            ScheduleTemplate(
                doctor_id=doctor.id,
                weekday=day,
                start_time=start,
                end_time=end,
                slot_minutes=minutes,
            )
            for doctor in staff
            for day in range(5)
        )


async def bare_insert(database: Database) -> tuple[float, int]:
    """Read back the keeper's rows, delete them, and time inserting them again in bulk."""
    columns = (
        Slot.doctor_id,
        Slot.department_id,
        Slot.starts_at,
        Slot.ends_at,
        Slot.local_date,
        Slot.available,
    )
    async with database.session() as session:
        rows: list[dict[str, Any]] = [
            dict(row._mapping) for row in await session.execute(select(*columns))
        ]
    async with database.transaction() as session:
        await session.execute(delete(Slot))
    started = time.perf_counter()
    async with database.transaction() as session:
        connection = await session.connection()
        await connection.execute(insert(Slot.__table__), rows)
    return time.perf_counter() - started, len(rows)


async def bench_engine(engine: str, args: argparse.Namespace) -> list[Figure]:
    async with scratch_database(engine, args.pg_url) as url:
        await upgrade_async(url)
        database = Database(url)
        try:
            await make_doctors(database, args.doctors)
            policy = BookingPolicy(timezone=ZoneInfo("America/New_York"), horizon_days=args.days)
            keeper = SlotKeeper(database, policy, clock=lambda: START)
            until = keeper.today() + timedelta(days=args.days - 1)
            started = time.perf_counter()
            created = await keeper.extend(until)
            extend_s = time.perf_counter() - started
            started = time.perf_counter()
            again = await keeper.extend(until)
            rerun_s = time.perf_counter() - started
            assert again == 0, f"second extend created {again} slots"
            bulk_s, rows = await bare_insert(database)
            async with database.session() as session:
                assert await session.scalar(select(func.count()).select_from(Slot)) == rows
        finally:
            await database.dispose()
    print(f"{engine}: {created} slots for {args.doctors} doctors over {args.days} days", flush=True)
    assert rows == created
    return [
        Figure(
            engine,
            f"extend ({created} slots)",
            f"{extend_s:.2f} s",
            f"{bulk_s:.2f} s",
            f"{extend_s / bulk_s:.1f}x",
            f"< {TARGET_SECONDS:.0f} s",
            extend_s < TARGET_SECONDS,
        ),
        Figure(
            engine,
            "extend again (0 new)",
            f"{rerun_s:.2f} s",
            "-",
            "-",
            f"< {TARGET_SECONDS:.0f} s",
            rerun_s < TARGET_SECONDS,
        ),
    ]


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    figures: list[Figure] = []
    for engine in engines:
        figures += await bench_engine(engine, args)
    print_figures(f"slots extend benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", figures)
    return 1 if any(f.passed is False for f in figures) else 0


if __name__ == "__main__":
    import uvloop

    # The server runs on uvloop (callcenter serve), so the benchmark does too.
    sys.exit(uvloop.run(main()))
