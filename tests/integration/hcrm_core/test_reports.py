"""Queue and agent reports against hand-computed figures, on SQLite and PostgreSQL."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from hcrm_core.errors import ValidationFailed
from hcrm_core.services.reports_agents import agent_report
from hcrm_core.services.reports_period import parse_period
from hcrm_core.services.reports_queues import queue_report
from tests.support.factories import utc
from tests.support.report_data import seed_reports

NY = ZoneInfo("America/New_York")
LATER = utc(2026, 11, 3)


async def test_queue_figures_over_the_dst_day(database):
    await seed_reports(database)
    period = parse_period("2026-11-01", "2026-11-01", "hour", NY)
    report = await queue_report(database, period, sl_seconds=20)
    # 25 hours on the day the clocks go back; the repeated hour shows its zone.
    assert len(report.buckets) == 25
    labels = [b.label(period.granularity) for b in report.buckets]
    assert labels[1:3] == ["2026-11-01 01:00 EDT", "2026-11-01 01:00 EST"]
    assert labels[0] == "2026-11-01 00:00" and labels[-1] == "2026-11-01 23:00"
    general = {line.queue: line for line in report.queues}["general"]
    total = general.total.as_dict()
    assert total == {
        "offered": 5,
        "answered": 3,
        "abandoned": 1,  # the answered call flagged abandoned is answered only
        "other": 1,
        "abandoned_wait_total_seconds": 45.0,
        "abandoned_wait_average_seconds": 45.0,
        "service_level_percent": 40.0,  # 10 s and 5 s of 5 offered
        "asa_seconds": 15.0,  # (10 + 30 + 5) / 3
        "handle_time_average_seconds": 160.0,  # (300 + 120 + 60) / 3
        "handle_time_total_seconds": 480.0,
        "longest_wait_seconds": 60.0,
    }
    assert [b.offered for b in general.buckets[1:3]] == [1, 1]
    assert general.buckets[1].answered_in_sl == 1 and general.buckets[2].answered_in_sl == 0
    assert general.buckets[24].offered == 1  # 23:00 EST is 04:00 UTC the next day
    billing = {line.queue: line for line in report.queues}["billing"]
    assert (billing.total.offered, billing.total.abandoned) == (1, 1)


async def test_agent_figures_from_the_state_history(database):
    seeded = await seed_reports(database)
    period = parse_period("2026-11-01", "2026-11-01", "day", NY)
    report = await agent_report(database, period, now=LATER)
    lines = {line.username: line for line in report.agents}
    assert set(lines) == {"alice", "bob"}  # agents only, not the supervisor
    alice = lines["alice"].total.as_dict()
    assert alice["ready_seconds"] == 34800.0  # 04:00-13:30 and 14:00-14:10 UTC
    assert alice["paused_seconds"] == 2400.0
    assert alice["paused_by_reason_seconds"] == {"lunch": 1800.0, "training": 600.0}
    assert (alice["on_call_seconds"], alice["wrap_up_seconds"]) == (300.0, 60.0)
    assert alice["signed_in_seconds"] == 37560.0
    assert (alice["calls_handled"], alice["handle_time_average_seconds"]) == (2, 180.0)
    bob = lines["bob"].total.as_dict()
    # Signed in at 23:00 EST and still ready: until the local day ends (25-hour day).
    assert bob["ready_seconds"] == 3600.0 and bob["signed_in_seconds"] == 3600.0
    assert (bob["calls_handled"], bob["handle_time_total_seconds"]) == (1, 120.0)
    only = await agent_report(database, period, agents=["bob"], now=LATER)
    assert [line.user_id for line in only.agents] == [seeded.bob]


async def test_an_open_state_ends_now_not_at_the_period_end(database):
    await seed_reports(database)
    period = parse_period("2026-11-02", "2026-11-02", "day", NY)
    report = await agent_report(database, period, agents=["bob"], now=utc(2026, 11, 2, 6, 0))
    assert report.agents[0].total.seconds["ready"] == 3600.0  # 05:00-06:00 UTC


async def test_week_and_month_buckets_start_at_local_midnight(database):
    week = parse_period("2026-10-28", "2026-11-10", "week", NY)
    starts = [b.local_start.isoformat() for b in week.buckets()]
    assert starts == [
        "2026-10-28T00:00:00-04:00",
        "2026-11-02T00:00:00-05:00",
        "2026-11-09T00:00:00-05:00",
    ]
    month = parse_period("2026-10-15", "2026-12-02", "month", NY)
    assert [b.label(month.granularity) for b in month.buckets()] == [
        "2026-10",
        "2026-11",
        "2026-12",
    ]
    await seed_reports(database)
    report = await queue_report(database, week)
    general = {line.queue: line for line in report.queues}["general"]
    # Oct 31 23:30 EDT and Nov 1's five in the first week; Nov 2 00:30 EST in the second.
    assert [b.offered for b in general.buckets] == [6, 1, 0]


async def test_an_empty_period_is_a_report_of_zeros(database):
    await seed_reports(database)
    period = parse_period("2026-06-01", "2026-06-02", "15min", NY)
    queues = await queue_report(database, period)
    assert len(queues.buckets) == 2 * 96
    assert all(line.total.offered == 0 for line in queues.queues)
    assert queues.queues[0].total.as_dict()["service_level_percent"] is None
    agents = await agent_report(database, period, now=LATER)
    assert all(line.total.signed_in == 0 for line in agents.agents)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("2026-11-02", "2026-11-01", "day"), "from"),
        (("2026-11-01", "2027-01-01", "15min"), "to"),
        (("2026-11-01", "2026-11-01", "fortnight"), "by"),
        (("yesterday", "2026-11-01", "day"), "from"),
        ((None, "2026-11-01", "day"), "from"),
    ],
)
def test_bad_periods_name_the_field(args, field):
    with pytest.raises(ValidationFailed) as caught:
        parse_period(*args, NY)
    assert caught.value.field == field


async def test_unknown_queue_or_agent_is_refused(database):
    await seed_reports(database)
    period = parse_period("2026-11-01", "2026-11-01", "day", NY)
    with pytest.raises(ValidationFailed) as caught:
        await queue_report(database, period, queues=["nope"])
    assert caught.value.field == "queue"
    with pytest.raises(ValidationFailed) as caught:
        await agent_report(database, period, agents=["sue-x"])
    assert caught.value.field == "agent"


async def test_a_call_on_a_bucket_boundary_counts_in_the_bucket_it_opens(database):
    from hcrm_core.models import Call, CallDirection

    edge = utc(2026, 11, 1, 6, 0)  # 01:00 EST: the second 01:00 hour begins
    async with database.transaction() as session:
        session.add(
            Call(
                linkedid="edge",
                direction=CallDirection.INBOUND,
                started_at=edge,
                queue="general",
                queued_at=edge,
                queue_wait_seconds=3.0,
                abandoned=True,
            )
        )
    period = parse_period("2026-11-01", "2026-11-01", "15min", NY)
    report = await queue_report(database, period, queues=["general"])
    offered = [figures.offered for figures in report.queues[0].buckets]
    assert offered.index(1) == 8 and sum(offered) == 1  # 00:00 EDT + 8 quarters
