"""Every report over a month, and ``reports rebuild``, against plain SQL on the same rows.

Target (issue 17): with a year of history for a 50-agent centre (about 1.5 million calls and
their events) on PostgreSQL, each report over a month answers in under 1 s at p95, and
``reports rebuild`` runs at 20,000 events/s or more. Baselines, measured in the same run on
the same database: for the reports, one plain SQL aggregate (``GROUP BY queue`` of the month's
calls: offered, answered, abandoned, waits); for the rebuild, reading the same events back
without folding them. Calls are made from synthetic AMI events (Newchannel, QueueCallerJoin,
AgentConnect or QueueCallerAbandon, Hangup) folded by the tracker's own ``LiveCall``, so the
stored rows are what the events say (and, for a call that reached the menus, the IVR's
progress) and the rebuild must find no difference. The rest of the centre
(the IVR's calls and steps, appointments, campaign attempts, tasks, complaints, patients and
segments) is seeded in proportion by ``_reports_centre``; the queue, agent, IVR, campaign,
appointment, complaint and task reports are timed by day and by 15 minutes, the segments
page's counts once.

Run: ``.venv/bin/python -m benchmarks.reports [--engine sqlite|postgresql|both]
[--agents 50] [--days 365] [--calls-per-day 4100] [--rebuild-days 7]``
(PostgreSQL from ``--pg-url`` or ``CALLCENTER_TEST_PG_URL``). A smoke run:
``--days 31 --calls-per-day 300``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import case, func, insert, select, text
from sqlalchemy.engine import make_url

from benchmarks._common import (
    Figure,
    default_pg_url,
    percentile,
    print_figures,
    progress_printer,
    scratch_database,
)
from benchmarks._reports_centre import Centre, fold_with_ivr, sync_sequences
from benchmarks._reports_outreach import insert_day
from callcenter.ami.events import AmiEvent, Headers
from callcenter.calls.rebuild import rebuild_calls
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import AgentStateChange, Appointment, Call, CallEvent, Role, User
from hcrm_core.services.reports_agents import agent_report
from hcrm_core.services.reports_appointments import appointment_report
from hcrm_core.services.reports_campaigns import campaign_report
from hcrm_core.services.reports_complaints import complaint_report
from hcrm_core.services.reports_ivr import ivr_report
from hcrm_core.services.reports_period import Period, parse_period
from hcrm_core.services.reports_queues import queue_report, report_reads
from hcrm_core.services.reports_task_figures import task_report
from hcrm_core.services.segments import SegmentService

REPORT_TARGET_SECONDS = 1.0
REBUILD_TARGET_EVENTS = 20_000.0
TZ = ZoneInfo("America/New_York")
INBOUND = frozenset({"hospital-inbound"})
QUEUES = ("appointments", "enquiries", "results")
FIRST_DAY = date(2026, 1, 1)
SAMPLES = 15


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=default_pg_url())
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--calls-per-day", type=int, default=4100)
    parser.add_argument("--rebuild-days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--samples", type=int, default=SAMPLES, help="timings per figure")
    parser.add_argument(
        "--database",
        help="PostgreSQL: seed this database once and keep it (reused when already seeded with "
        "the same options), instead of a scratch one: for iterating, and for the year's figure",
    )
    return parser.parse_args(argv)


def _event(name: str, at: float, **headers: str) -> AmiEvent:
    return AmiEvent(name, Headers(list(headers.items())), at)


def call_events(n: int, day: date, rng: random.Random, agents: int) -> list[AmiEvent]:
    """One queue call's events: answered by an agent (80 %) or abandoned."""
    linkedid = f"bench-{n}"
    start = datetime(day.year, day.month, day.day, 8, tzinfo=TZ).timestamp() + rng.uniform(
        0, 10 * 3600
    )
    queue = rng.choice(QUEUES)
    wait = rng.uniform(0, 120)
    common = {"Linkedid": linkedid, "Uniqueid": linkedid}
    events = [
        _event(
            "Newchannel",
            start,
            Context="hospital-inbound",
            CallerIDNum="2125550100",
            CallerIDName="",
            Exten="s",
            **common,
        ),
        _event("QueueCallerJoin", start + 5, Queue=queue, Position="1", **common),
    ]
    joined = start + 5
    if rng.random() < 0.8:
        agent = rng.randrange(agents)
        events.append(
            _event(
                "AgentConnect",
                joined + wait,
                Queue=queue,
                Interface=f"PJSIP/{1000 + agent}",
                HoldTime=str(round(wait)),
                **common,
            )
        )
        end = joined + wait + rng.uniform(30, 600)
    else:
        events.append(
            _event(
                "QueueCallerAbandon",
                joined + wait,
                Queue=queue,
                HoldTime=str(round(wait)),
                **common,
            )
        )
        end = joined + wait + 0.5
    events.append(_event("Hangup", end, Cause="16", **common))
    return events


async def seed(database: Database, args: argparse.Namespace) -> tuple[int, int]:
    rng = random.Random(args.seed)
    async with database.transaction() as session:
        users = [
            {
                "username": f"agent{i}",
                "display_name": f"Agent {i}",
                "role": Role.AGENT,
                "password_hash": "x",
                "extension": str(1000 + i),
            }
            for i in range(args.agents)
        ]
        await session.execute(insert(User), users)
        ids = list(await session.scalars(select(User.id).order_by(User.id)))
    centre = Centre(rng, TZ, FIRST_DAY, args.days, args.calls_per_day, ids)
    await centre.setup(database)
    report = progress_printer("seeding")
    calls = events = 0
    n = 0
    for offset in range(args.days):
        day = FIRST_DAY + timedelta(days=offset)
        folds: list[tuple[str, list[AmiEvent], list[Any]]] = []
        for _ in range(args.calls_per_day):
            n += 1
            queue_events = call_events(n, day, rng, args.agents)
            start = queue_events[0].received_at
            folds.append((f"bench-{n}", queue_events, centre.queue_call_ivr(start, f"bench-{n}")))
        others, ivr_calls = centre.day(offset)
        call_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        for linkedid, folded_events, progress in [*folds, *ivr_calls]:
            call_rows.append(fold_with_ivr(linkedid, folded_events, progress, INBOUND).row())
            event_rows.extend(
                {
                    "linkedid": linkedid,
                    "seq": i,
                    "received_at": datetime.fromtimestamp(e.received_at, UTC),
                    "name": e.name,
                    "headers": e.headers.as_dict(),
                }
                for i, e in enumerate(folded_events)
            )
        states = _shift(ids, day, rng)
        async with database.transaction() as session:
            await session.execute(insert(Call), call_rows)
            await session.execute(insert(CallEvent), event_rows)
            await session.execute(insert(AgentStateChange), states)
            await insert_day(session, others)
        calls += len(call_rows)
        events += len(event_rows)
        report((offset + 1) / args.days)
    await sync_sequences(database)
    return calls, events


def _shift(ids: list[int], day: date, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for i, user_id in enumerate(ids):
        at = datetime(day.year, day.month, day.day, 8, tzinfo=TZ).astimezone(UTC)
        for state, minutes in (
            ("ready", 0),
            ("paused", 120),
            ("ready", 135),
            ("on_call", 200),
            ("wrap_up", 205),
            ("ready", 206),
            ("signed_out", 480),
        ):
            rows.append(
                {
                    "user_id": user_id,
                    "username": f"agent{i}",
                    "extension": "",
                    "state": state,
                    "pause_reason": "break" if state == "paused" else "",
                    "at": at + timedelta(minutes=minutes + rng.randint(0, 3)),
                }
            )
    return rows


async def plain_aggregate(database: Database, start: datetime, end: datetime) -> list[Any]:
    query = (
        select(
            Call.queue,
            func.count(),
            func.sum(case((Call.agent_interface.is_not(None), 1), else_=0)),
            func.sum(case((Call.abandoned, 1), else_=0)),
            func.avg(Call.queue_wait_seconds),
            func.max(Call.queue_wait_seconds),
        )
        .where(Call.queued_at >= start, Call.queued_at < end)
        .group_by(Call.queue)
    )
    # Planned for its period as the reports' statements are (report_reads).
    async with report_reads(database) as connection:
        return list((await connection.execute(query)).all())


async def _timed(works: dict[str, Any], rounds: int = SAMPLES) -> dict[str, list[float]]:
    """Samples of each piece of work, taken in turns, so that a burst of load on the shared
    machine falls on the reports and on their baseline alike."""
    samples: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(rounds):
        for name, work in works.items():
            began = time.perf_counter()
            await work()
            samples[name].append(time.perf_counter() - began)
    return samples


async def read_events(database: Database, start: datetime, end: datetime) -> float:
    """The baseline of the rebuild: the same events read back, not folded (events/s)."""
    began = time.perf_counter()
    query = (
        select(CallEvent.linkedid, CallEvent.received_at, CallEvent.name, CallEvent.headers)
        .join(Call, Call.linkedid == CallEvent.linkedid)
        .where(Call.started_at >= start, Call.started_at < end)
        .order_by(CallEvent.id)
    )
    async with database.session() as session:
        count = len((await session.execute(query)).all())
    return count / (time.perf_counter() - began)


@asynccontextmanager
async def _database(engine: str, args: argparse.Namespace) -> AsyncIterator[str]:
    if engine == "postgresql" and args.database:
        yield await _kept_database(args.pg_url, args.database)
        return
    async with scratch_database(engine, args.pg_url) as url:
        await upgrade_async(url)
        yield url


async def _kept_database(pg_url: str, name: str) -> str:
    server = make_url(pg_url)
    admin = await asyncpg.connect(server.set(drivername="postgresql").render_as_string(False))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = server.set(database=name).render_as_string(hide_password=False)
    await upgrade_async(url)
    return url


async def _seeded(database: Database, args: argparse.Namespace) -> tuple[int, int]:
    async with database.session() as session:
        queued = await session.scalar(
            select(func.count()).select_from(Call).where(Call.queue.is_not(None))
        )
        calls = await session.scalar(select(func.count()).select_from(Call))
        events = await session.scalar(select(func.count()).select_from(CallEvent))
        appointments = await session.scalar(select(func.count()).select_from(Appointment))
    if calls:
        expected = args.days * args.calls_per_day
        assert queued == expected, f"{args.database} holds {queued:,} queue calls, not {expected:,}"
        assert appointments, f"{args.database} was seeded without the centre: drop it"
        return int(calls), int(events or 0)
    calls, events = await seed(database, args)
    await _analyze(database)
    return calls, events


_SEEDED_TABLES = (
    "calls",
    "call_events",
    "agent_state_changes",
    "appointments",
    "campaign_attempts",
    "followup_tasks",
    "complaints",
    "task_status_changes",
    "complaint_status_changes",
    "audit_log",
    "patients",
    "slots",
)


async def _analyze(database: Database) -> None:
    """Statistics for the planner, as autovacuum keeps them on a live database (a bulk load
    is planned as if the tables were empty until then)."""
    if database.dialect == "sqlite":
        async with database.transaction() as session:
            await session.execute(text("ANALYZE"))
        return
    engine = database.write_engine.execution_options(isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        for table in _SEEDED_TABLES:
            await connection.execute(text(f"VACUUM ANALYZE {table}"))


async def run_engine(engine: str, args: argparse.Namespace) -> list[Figure]:
    async with _database(engine, args) as url:
        database = Database(url)
        try:
            calls, events = await _seeded(database, args)
            print(f"  {engine}: {calls:,} calls, {events:,} events, load {_load()}")
            first, last = ("2026-03-01", "2026-03-31") if args.days >= 90 else FIRST_MONTH
            figures = []
            for by in ("day", "15min"):
                month = parse_period(first, last, by, TZ)
                samples = await _timed(
                    {**_reports(database, month), "plain": _plain(database, month)}
                )
                figures += _report_figures(engine, f"month by {by}", samples)
            works = {**_segmentation(database), "plain": _plain(database, month)}
            samples = await _timed(works, args.samples)
            figures += _report_figures(engine, "now", samples)
            start = month.start
            end = start + timedelta(days=args.rebuild_days)
            # The baseline read before and after the rebuild, its better rate kept: the events
            # are in the database's cache for both.
            read_rate = await read_events(database, start, end)
            result = await rebuild_calls(database, start, end, inbound_contexts=sorted(INBOUND))
            assert result.differences == [], result.differences[:3]
            read_rate = max(read_rate, await read_events(database, start, end))
            print(f"  load after: {_load()}")
        finally:
            await database.dispose()
    rate = result.events_per_second
    figures.append(
        Figure(
            engine,
            f"rebuild ({result.events:,} events)",
            f"{rate:,.0f} ev/s",
            f"{read_rate:,.0f} ev/s read",
            f"{rate / read_rate:.2f}x",
            f">= {REBUILD_TARGET_EVENTS:,.0f} ev/s",
            rate >= REBUILD_TARGET_EVENTS,
        )
    )
    return figures


FIRST_MONTH = ("2026-01-01", "2026-01-31")


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _report_figures(engine: str, over: str, samples: dict[str, list[float]]) -> list[Figure]:
    base_p95 = percentile(samples["plain"], 95)
    figures = []
    for name, taken in samples.items():
        if name == "plain":
            continue
        p95 = percentile(taken, 95)
        figures.append(
            Figure(
                engine,
                f"{name}, {over}, p95",
                f"{p95 * 1000:.0f} ms",
                f"{base_p95 * 1000:.0f} ms",
                f"{p95 / base_p95:.1f}x",
                f"< {REPORT_TARGET_SECONDS:.0f} s",
                p95 < REPORT_TARGET_SECONDS,
            )
        )
    return figures


Work = Callable[[], Awaitable[Any]]


def _plain(database: Database, period: Period) -> Work:
    return lambda: plain_aggregate(database, period.start, period.end)


def _reports(database: Database, period: Period) -> dict[str, Work]:
    """Every report over ``period``, called as the console's pages and API call them."""
    return {
        "queue report": lambda: queue_report(database, period),
        "agent report": lambda: agent_report(database, period),
        "IVR report": lambda: ivr_report(database, period),
        "campaign report": lambda: campaign_report(database, period),
        "appointment report": lambda: appointment_report(database, period),
        "complaint report": lambda: complaint_report(database, period),
        "task report": lambda: task_report(database, period),
    }


def _segmentation(database: Database) -> dict[str, Work]:
    """The segmentation page's counts (patients per RFM group; every segment's members),
    over the whole history: not a period's."""
    segments = SegmentService(database, TZ)
    return {
        "RFM group counts": segments.rfm_counts,
        "segment counts": segments.all,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    figures: list[Figure] = []
    for engine in engines:
        figures.extend(asyncio.run(run_engine(engine, args)))
    print_figures(
        f"reports: {args.agents} agents, {args.days} days x {args.calls_per_day} calls", figures
    )
    return 0 if all(f.passed is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
