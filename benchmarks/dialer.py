"""The campaign dialer: pacing against the real Asterisk sandbox, and scheduling at scale.

1. **Pacing** (SQLite): a ``--calls`` (1,000) patient survey campaign, cap ``--cap`` (20)
   concurrent and ``--rate`` (10) calls/s, dialled by the real :class:`Dialer` through the
   sandbox (root) to simulated patients who answer at once and hang up after ``--hold`` seconds;
   the survey dialog runs over FastAGI. Measured from Asterisk's own AMI events (``Newchannel``
   and ``Hangup`` of each call's first channel), never from the dialer's counters: the highest
   number of campaign calls up at once (target: at most the cap) and the achieved calls per
   second from the first call to the last (target: within 10% of the rate; the baseline column
   is the configured rate).
2. **Scheduling** (SQLite and PostgreSQL): ``--targets`` (100,000) patients with phones;
   ``CampaignService.start`` selects them (consent, do-not-call, phone) and writes one attempt
   each. Baseline: a bare bulk ``INSERT`` of the same attempt rows into the same table.

Run: ``.venv/bin/python -m benchmarks.dialer [--calls 1000] [--cap 20] [--rate 10] [--hold 1]
[--targets 100000] [--engine sqlite|postgresql|both] [--skip-pacing] [--pg-url URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, delete, func, insert, select

from benchmarks._common import Figure, default_pg_url, print_figures, scratch_database
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiBridge, AmiEvent, AmiResynced
from callcenter.asterisk import const
from callcenter.bus import EventBus
from callcenter.outbound.bus_consume import DialerEvents
from callcenter.outbound.channels import DialPlan
from callcenter.outbound.dialer import Dialer, DialerOptions
from callcenter.outbound.dialogs import DialogServices, outbound_call
from callcenter.settings import AgiSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import AttemptStatus, CampaignAttempt, Patient, PatientPhone
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_answers import AnswerService
from hcrm_core.services.campaigns_attempts import AttemptService, DialTarget

_PATIENTS: Table = Patient.__table__  # type: ignore[assignment]
_PHONES: Table = PatientPhone.__table__  # type: ignore[assignment]
_ATTEMPTS: Table = CampaignAttempt.__table__  # type: ignore[assignment]
_BATCH = 5_000


async def add_patients(database: Database, count: int, phone: str) -> list[int]:
    """``count`` patients with one phone each, in bulk (the scheduling input)."""
    now = datetime.now(UTC)
    ids: list[int] = []
    async with database.transaction() as session:
        connection = await session.connection()
        start = (await connection.scalar(select(func.coalesce(func.max(Patient.id), 0)))) or 0
        for first in range(0, count, _BATCH):
            rows = [
                {
                    "id": start + n + 1,
                    "mrn": f"B{start + n + 1:08d}",
                    "family_name": "Bench",
                    "given_name": f"P{n}",
                    "search_name": f"p{n} bench",
                    "date_of_birth": date(1970, 1, 1),
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(first, min(count, first + _BATCH))
            ]
            await connection.execute(insert(_PATIENTS), rows)
            await connection.execute(
                insert(_PHONES),
                [
                    {"patient_id": r["id"], "e164": phone, "raw": phone, "is_primary": True}
                    for r in rows
                ],
            )
            ids.extend(range(start + first + 1, start + first + len(rows) + 1))
    return ids


def daytime_number() -> tuple[str, ZoneInfo]:
    """A number whose zone is in daytime now (the patients' own 08:00-21:00 rule)."""
    import phonenumbers
    from phonenumbers import timezone as phone_timezone

    for region in ("US", "GB", "JP", "AU", "IN", "BR"):
        number = phonenumbers.example_number_for_type(
            region, phonenumbers.PhoneNumberType.FIXED_LINE
        )
        assert number is not None
        zone = ZoneInfo(phone_timezone.time_zones_for_number(number)[0])
        if 9 <= datetime.now(UTC).astimezone(zone).hour < 20:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), zone
    raise SystemExit("no region in daytime found")


# -- 1. pacing ---------------------------------------------------------------------------------


class Concurrency:
    """Campaign calls up at once, from Asterisk's events."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.live = 0
        self.highest = 0
        self.starts: list[float] = []
        self.ended = 0

    def wanted(self, event: AmiEvent) -> bool:
        return (
            event.name in ("Newchannel", "Hangup")
            and event.uniqueid.startswith(self.prefix)
            and not event.uniqueid.endswith("-b")
        )

    async def on_event(self, event: AmiEvent) -> None:
        if event.name == "Newchannel":
            self.live += 1
            self.starts.append(event.received_at)
        else:
            self.live -= 1
            self.ended += 1
        self.highest = max(self.highest, self.live)

    async def until_ended(self, calls: int, rate: float, every: float) -> None:
        """Print progress every ``every`` s until ``calls`` calls have ended (at most three
        times the time ``rate`` needs, plus a minute)."""
        async with asyncio.timeout(calls / rate * 3 + 60):
            while self.ended < calls:
                await asyncio.sleep(every)
                print(f"  calls ended {self.ended}/{calls}, up {self.live}", flush=True)

    def achieved_rate(self) -> float:
        """Calls per second from the first call placed to the last."""
        starts = sorted(self.starts)
        return (len(starts) - 1) / (starts[-1] - starts[0])


@dataclass
class SurveyDialer:
    """A dialer wired as the server wires it: the survey dialog on its own FastAGI server,
    the dialer's event consumer, calls routed to the sandbox's simulated patients (they
    answer at once and hang up after ``hold`` s)."""

    agi: FastAgiServer
    dialer: Dialer
    events: DialerEvents

    async def close(self) -> None:
        """Stop the event consumer and the FastAGI server (the dialer is stopped by its
        owner: this script, or the leader election)."""
        await self.events.stop()
        await self.agi.stop()


async def start_survey_dialer(
    database: Database, bus: EventBus, ami: AmiBridge, zone: ZoneInfo, prefix: str, hold: float
) -> SurveyDialer:
    """A :class:`SurveyDialer` with its FastAGI server and consumer started, not dialling."""
    policy = BookingPolicy(timezone=zone)
    attempts = AttemptService(database)
    services = DialogServices(
        attempts=attempts,
        answers=AnswerService(database),
        appointments=AppointmentService(database, policy),
        bus=bus,
        timezone=str(zone),
        channel_prefix=prefix,
    )

    async def survey(agi: Any) -> None:
        await outbound_call(agi, services=services)

    agi = FastAgiServer(AgiSettings(port=0), {const.AGI_ROUTE_SURVEY: survey})
    await agi.start()

    def route(target: DialTarget) -> DialPlan:
        return DialPlan(
            f"Local/answer@{const.CONTEXT_SIM_CALLEE}", {"SIM_HOLD": str(hold), "SIM_DELAY": "0"}
        )

    options = DialerOptions(
        timezone=zone,
        hospital_name="Benchmark Hospital",
        caller_id_number="+12125550100",
        channel_prefix=prefix,
        tick_seconds=0.05,
        agi_url=f"agi://127.0.0.1:{agi.port}",
    )
    campaigns = CampaignService(database, policy)
    dialer = Dialer(ami=ami, campaigns=campaigns, attempts=attempts, options=options, route=route)
    events = DialerEvents(bus, dialer, database)
    await events.start()
    return SurveyDialer(agi, dialer, events)


async def start_survey_campaign(
    campaigns: CampaignService, ids: list[int], cap: int, rate: float
) -> None:
    """A survey campaign to the patients ``ids``, any day and hour, started."""
    campaign = await campaigns.create(
        "bench",
        "survey",
        {
            "window": {"weekdays": list(range(7))},
            "targets": {"patient_ids": ids},
            "max_concurrent": cap,
            "calls_per_second": rate,
            "ring_timeout_seconds": 10,
        },
        Actor.system(),
    )
    await campaigns.start(campaign.id, Actor.system())


async def pacing(args: argparse.Namespace) -> list[Figure]:
    from callcenter.asterisk.sandbox import AsteriskSandbox
    from tests.support.asterisk_sandbox import sandbox_test_settings

    data_dir = Path(tempfile.mkdtemp(prefix="bench_dialer_"))
    settings = sandbox_test_settings(data_dir)
    await asyncio.to_thread(AsteriskSandbox(settings, progress=print).start)
    phone, zone = daytime_number()
    async with scratch_database("sqlite", args.pg_url) as url:
        await upgrade_async(url)
        database = Database(url)
        try:
            return await _pace(args, settings, database, phone, zone)
        finally:
            await database.dispose()


async def _pace(
    args: argparse.Namespace, settings: Any, database: Database, phone: str, zone: ZoneInfo
) -> list[Figure]:
    ids = await add_patients(database, args.calls, phone)
    prefix = f"b{uuid.uuid4().hex[:8]}-"
    bus = EventBus()
    counter = Concurrency(prefix)
    bus.subscribe(AmiEvent, counter.on_event, name="bench", predicate=counter.wanted)
    ami = AmiBridge(settings.ami, bus)
    await ami.start()
    await ami.wait_ready(30)
    survey = await start_survey_dialer(database, bus, ami, zone, prefix, args.hold)
    campaigns = CampaignService(database, BookingPolicy(timezone=zone))
    await start_survey_campaign(campaigns, ids, args.cap, args.rate)
    await survey.dialer.start()
    bus.publish(AmiResynced(await ami.resync()))
    try:
        await counter.until_ended(args.calls, args.rate, every=0.5)
    finally:
        await survey.dialer.stop()
        await survey.close()
        await ami.stop()
        await bus.close()
    async with database.session() as session:
        never = await session.scalar(
            select(func.count())
            .select_from(CampaignAttempt)
            .where(CampaignAttempt.status == AttemptStatus.SCHEDULED)
        )
    placed = len(counter.starts)
    achieved = counter.achieved_rate()
    print(f"  {placed} calls placed, {never} left scheduled")
    return [
        Figure(
            "sqlite",
            f"highest concurrency ({args.calls} calls)",
            str(counter.highest),
            str(args.cap),
            f"{counter.highest / args.cap:.2f}x",
            f"<= {args.cap}",
            counter.highest <= args.cap and placed == args.calls,
        ),
        Figure(
            "sqlite",
            "calls per second",
            f"{achieved:.2f}",
            f"{args.rate:g}",
            f"{achieved / args.rate:.2f}x",
            "within 10%",
            abs(achieved / args.rate - 1) <= 0.10,
        ),
    ]


# -- 2. scheduling -----------------------------------------------------------------------------


async def scheduling(engine: str, args: argparse.Namespace) -> list[Figure]:
    async with scratch_database(engine, args.pg_url) as url:
        await upgrade_async(url)
        database = Database(url, pool_size=5)
        try:
            phone, zone = "+12015550123", ZoneInfo("America/New_York")
            ids = await add_patients(database, args.targets, phone)
            service = CampaignService(database, BookingPolicy(timezone=zone))
            campaign = await service.create("bench", "survey", {}, Actor.system())
            started = time.perf_counter()
            scheduled = await service.start(campaign.id, Actor.system())
            service_seconds = time.perf_counter() - started
            assert scheduled == args.targets, scheduled
            now = datetime.now(UTC)
            rows = [
                {
                    "campaign_id": campaign.id,
                    "patient_id": pid,
                    "phone_e164": phone,
                    "attempt_no": 1,
                    "status": AttemptStatus.SCHEDULED,
                    "scheduled_for": now,
                }
                for pid in ids
            ]
            async with database.transaction() as session:
                await session.execute(delete(CampaignAttempt))
            started = time.perf_counter()
            async with database.transaction() as session:
                connection = await session.connection()
                for first in range(0, len(rows), _BATCH):
                    await connection.execute(insert(_ATTEMPTS), rows[first : first + _BATCH])
            baseline_seconds = time.perf_counter() - started
        finally:
            await database.dispose()
    return [
        Figure(
            engine,
            f"select + schedule {args.targets:,} targets (s)",
            f"{service_seconds:.2f}",
            f"{baseline_seconds:.2f}",
            f"{service_seconds / baseline_seconds:.2f}x",
        )
    ]


async def main(args: argparse.Namespace) -> int:
    figures: list[Figure] = []
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine in engines:
        print(f"scheduling on {engine}...", flush=True)
        figures += await scheduling(engine, args)
    if not args.skip_pacing:
        print("pacing against the sandbox...", flush=True)
        figures += await pacing(args)
    print_figures("Dialer", figures)
    return 0 if all(f.passed is not False for f in figures) else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--cap", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--hold", type=int, default=1)
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--skip-pacing", action="store_true")
    parser.add_argument("--pg-url", default=default_pg_url())
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
