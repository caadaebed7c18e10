"""Two server processes' dialers on one PostgreSQL: together they dial at the configured rate,
not twice it (issue 18).

Each of the two nodes has what a ``callcenter serve`` process has for this: its own database
engine, event bus, AMI session to the sandbox, FastAGI server with the survey dialog, dialer and
its event consumer, and a :class:`~callcenter.cluster.leader.LeaderElection` that starts the
dialer on the leader only (the same wiring as ``callcenter/server/root.py``; both nodes run in
this one Python process, each with its own connections and advisory-lock session). A
``--calls`` (200) patient survey campaign, cap ``--cap`` (20), ``--rate`` (10) calls/s, to
simulated patients who answer at once and hang up after ``--hold`` s. Measured from Asterisk's
own AMI events (``Newchannel`` of each call's first channel): the achieved calls per second
from the first call to the last, and the highest number of calls up at once. Baseline: the
configured rate (one process dialling alone achieves it: ``benchmarks/dialer.py``).

Run: ``.venv/bin/python -m benchmarks.cluster_dialer [--calls 200] [--cap 20] [--rate 10]
[--hold 1] [--pg-url URL]`` (root: it starts the Asterisk sandbox if it is not running).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks._common import Figure, default_pg_url, print_figures, scratch_database
from benchmarks.dialer import (
    Concurrency,
    SurveyDialer,
    add_patients,
    daytime_number,
    start_survey_campaign,
    start_survey_dialer,
)
from callcenter.ami.bridge import AmiBridge, AmiEvent
from callcenter.bus import EventBus
from callcenter.cluster.leader import LeaderElection
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.campaigns import CampaignService


@dataclass
class Node:
    name: str
    database: Database
    bus: EventBus
    ami: AmiBridge
    survey: SurveyDialer
    election: LeaderElection

    async def stop(self) -> None:
        await self.election.stop()
        await self.survey.close()
        await self.ami.stop()
        await self.bus.close()
        await self.database.dispose()


async def start_node(
    name: str, url: str, settings: Any, zone: ZoneInfo, prefix: str, hold: float
) -> Node:
    database = Database(url, pool_size=5)
    bus = EventBus()
    ami = AmiBridge(settings.ami, bus)
    survey = await start_survey_dialer(database, bus, ami, zone, prefix, hold)
    dialer = survey.dialer
    # As the composition root wires it: follow until elected, dial and resync when elected.
    election = LeaderElection(database, node=name)
    election.when_following(dialer.follow)
    await ami.start()
    await ami.wait_ready(30)
    election.add("dialing", partial(dialer.start, election.fence), dialer.stop)
    election.add("leader resync", ami.publish_resync, _nothing)
    await election.start()
    return Node(name, database, bus, ami, survey, election)


async def _nothing() -> None:
    return None


async def run(args: argparse.Namespace) -> list[Figure]:
    from callcenter.asterisk.sandbox import AsteriskSandbox
    from tests.support.asterisk_sandbox import sandbox_test_settings

    settings = sandbox_test_settings(Path(tempfile.mkdtemp(prefix="bench_cluster_")))
    await asyncio.to_thread(AsteriskSandbox(settings, progress=print).start)
    phone, zone = daytime_number()
    async with scratch_database("postgresql", args.pg_url) as url:
        await upgrade_async(url)
        setup = Database(url, pool_size=2)
        try:
            ids = await add_patients(setup, args.calls, phone)
            campaigns = CampaignService(setup, BookingPolicy(timezone=zone))
            return await _measure(args, settings, url, setup, campaigns, ids, zone)
        finally:
            await setup.dispose()


async def _measure(
    args: argparse.Namespace,
    settings: Any,
    url: str,
    setup: Database,
    campaigns: CampaignService,
    ids: list[int],
    zone: ZoneInfo,
) -> list[Figure]:
    prefix = f"c{uuid.uuid4().hex[:8]}-"
    nodes = [await start_node(n, url, settings, zone, prefix, args.hold) for n in ("a", "b")]
    leaders = [node.name for node in nodes if node.election.is_leader]
    counter = Concurrency(prefix)
    placed: Counter[str] = Counter()

    async def count(event: AmiEvent) -> None:
        await counter.on_event(event)
        if event.name == "Newchannel":
            placed[event.uniqueid] += 1

    nodes[0].bus.subscribe(AmiEvent, count, name="bench", predicate=counter.wanted)
    await start_survey_campaign(campaigns, ids, args.cap, args.rate)
    try:
        await counter.until_ended(args.calls, args.rate, every=1.0)
    finally:
        for node in nodes:
            await node.stop()
    achieved = counter.achieved_rate()
    ratio = achieved / args.rate
    twice = sum(1 for n in placed.values() if n > 1)
    by_node = {node.name: node.survey.dialer.originated for node in nodes}
    print(f"  leader at start: {leaders}; originated by node: {by_node}; dialled twice: {twice}")
    print(f"  calls per second with two processes / configured rate = {ratio:.2f}")
    return [
        Figure(
            "postgresql",
            "calls per second, two processes",
            f"{achieved:.2f}",
            f"{args.rate:g}",
            f"{ratio:.2f}x",
            "within 10% (not 2x)",
            abs(ratio - 1) <= 0.10 and len(counter.starts) == args.calls and twice == 0,
        ),
        Figure(
            "postgresql",
            f"highest concurrency ({args.calls} calls)",
            str(counter.highest),
            str(args.cap),
            f"{counter.highest / args.cap:.2f}x",
            f"<= {args.cap}",
            counter.highest <= args.cap,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--cap", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--hold", type=float, default=1.0)
    parser.add_argument("--pg-url", default=default_pg_url())
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print_figures("Two processes, one dialer (issue 18)", figures)
    sys.exit(0 if all(f.passed for f in figures) else 1)


if __name__ == "__main__":
    main()
