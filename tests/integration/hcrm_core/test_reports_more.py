"""IVR, campaign, complaint and task reports against hand-computed figures (the seed's
comments, tests/support/report_more_data.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Role
from hcrm_core.services.reports_campaigns import campaign_report
from hcrm_core.services.reports_complaints import complaint_report
from hcrm_core.services.reports_ivr import ivr_report
from hcrm_core.services.reports_period import parse_period
from hcrm_core.services.reports_task_figures import task_report
from tests.support.report_data import _user
from tests.support.report_more_data import DAY, NOW, NY, seed_more_reports

EMPTY = parse_period("2026-06-01", "2026-06-30", "day", NY)


async def _seed(database, policy, *, with_campaigns: bool = True):
    async with database.transaction() as session:
        alice, bob = _user("alice", Role.AGENT, "1001"), _user("bob", Role.AGENT, "1002")
        session.add_all([alice, bob])
        await session.flush()
    return await seed_more_reports(
        database, policy, alice=alice.id, bob=bob.id, with_campaigns=with_campaigns
    )


async def test_ivr_outcomes_hang_ups_by_step_and_channels(database, policy):
    await _seed(database, policy, with_campaigns=False)
    report = await ivr_report(database, parse_period(DAY, DAY, "hour", NY))
    total = report.total.as_dict()
    assert (total["entered"], total["contained"], total["to_agent"]) == (8, 2, 1)
    assert (total["hung_up"], total["ongoing"], total["contained_percent"]) == (4, 1, 25.0)
    steps = {s.step: (s.total_hung_up, s.total_contained) for s in report.steps}
    assert steps == {"main-menu": (2, 0), "book-slots": (1, 0), "to-agent": (1, 0), "done": (0, 2)}
    assert report.steps[0].step == "main-menu"  # the most hang-ups first
    # 14:00 UTC is 09:00 EST, the 10th hour; 15:00 UTC the 11th.
    assert report.per_bucket[9].as_dict()["contained"] == 2
    assert report.per_bucket[10].as_dict()["hung_up"] == 3
    booked = {k: v for k, v in total.items() if k.startswith("booked")}
    assert booked == {
        "booked": 4,
        "booked_ivr_keypad": 0,
        "booked_ivr_speech": 1,
        "booked_agent_on_call": 1,
        "booked_agent": 1,
        "booked_web": 1,
        "booked_outbound": 0,
    }
    assert (total["cancelled"], total["cancelled_ivr_keypad"], total["cancelled_agent"]) == (
        2,
        1,
        1,
    )
    empty = (await ivr_report(database, EMPTY)).total.as_dict()
    assert (empty["entered"], empty["contained_percent"], empty["booked"]) == (0, None, 0)


async def test_campaigns_per_campaign_and_attempt(database, policy):
    seeded = await _seed(database, policy)
    period = parse_period(DAY, DAY, "day", NY)
    report = await campaign_report(database, period)
    lines = {line.name: line for line in report.campaigns}
    assert list(lines) == ["Discharge calls", "Survey"]
    discharge = lines["Discharge calls"].total.as_dict()
    assert discharge == {
        "dialled": 6,
        "reached": 2,
        "completed": 1,
        "to_agent": 0,
        "opted_out": 1,
        "hung_up": 0,
        "machine": 0,
        "no_answer": 1,
        "busy": 2,
        "failed": 1,
        "escalated": 1,
        "not_reached_tasks": 1,
        "reached_percent": 33.3,
    }
    by_attempt = {n: f.as_dict() for n, f in lines["Discharge calls"].by_attempt.items()}
    assert list(by_attempt) == [1, 2, 3]
    first, second, third = by_attempt[1], by_attempt[2], by_attempt[3]
    assert (first["dialled"], first["opted_out"], first["no_answer"], first["busy"]) == (3, 1, 1, 1)
    assert (second["dialled"], second["completed"], second["escalated"]) == (2, 1, 1)
    assert (third["failed"], third["not_reached_tasks"]) == (1, 1)
    survey = lines["Survey"].total.as_dict()
    assert (survey["dialled"], survey["reached"], survey["to_agent"]) == (4, 3, 1)
    assert (survey["hung_up"], survey["machine"], survey["reached_percent"]) == (1, 1, 75.0)
    only = await campaign_report(database, period, campaign_ids=[seeded.survey_id])
    assert [line.name for line in only.campaigns] == ["Survey"]
    with pytest.raises(ValidationFailed) as refused:
        await campaign_report(database, period, campaign_ids=[987654])
    assert refused.value.field == "campaign"
    # A campaign asked for by id stays in an empty period, as zeros.
    empty = await campaign_report(database, EMPTY, campaign_ids=[seeded.discharge_id])
    assert empty.campaigns[0].total.as_dict()["dialled"] == 0
    assert (await campaign_report(database, EMPTY)).campaigns == []


async def test_complaints_received_open_overdue_and_time_to_close(database, policy):
    await _seed(database, policy, with_campaigns=False)
    # Made at NOW, for a period not over (the day, then the days up to NOW): the complaints
    # of the day as they are at NOW.
    report = await complaint_report(database, parse_period(DAY, "2026-11-20", "day", NY), now=NOW)
    total = report.per_bucket[0].as_dict()
    assert total == {
        "received": 4,
        "severity_low": 1,
        "severity_medium": 1,
        "severity_high": 1,
        "severity_critical": 1,
        "open": 2,
        "overdue": 1,
        "answered_late": 2,
        "closed": 2,
        "time_to_close_average_hours": 36.0,
    }
    categories = {k: v.as_dict() for k, v in report.by_category.items()}
    assert (categories["billing"]["closed"], categories["billing"]["answered_late"]) == (1, 1)
    assert categories["billing"]["time_to_close_average_hours"] == 24.0
    # staff: with the next day's complaint, never acknowledged either.
    assert (categories["staff"]["overdue"], categories["staff"]["time_to_close_average_hours"]) == (
        2,
        48.0,
    )
    # The day alone is over: what became of its complaints by its end (none answered yet).
    day = (await complaint_report(database, parse_period(DAY, DAY, "day", NY), now=NOW)).total
    assert (day.received, day.open, day.overdue, day.closed, day.answered_late) == (4, 4, 0, 0, 0)
    empty = (await complaint_report(database, EMPTY, now=NOW)).total.as_dict()
    assert (empty["received"], empty["time_to_close_average_hours"]) == (0, None)


async def test_tasks_by_source_outcome_and_owner(database, policy):
    await _seed(database, policy, with_campaigns=False)
    period = parse_period(DAY, DAY, "day", NY)
    # Made at NOW, for a period not over: the day's tasks as they are at NOW.
    running = parse_period(DAY, "2026-11-20", "day", NY)
    report = await task_report(database, running, now=NOW)
    total = report.per_bucket[0].as_dict()
    assert (total["created"], total["source_manual"], total["source_survey"]) == (7, 2, 1)
    assert (total["source_campaign"], total["source_ivr_no_agent"], total["source_voicemail"]) == (
        1,
        1,
        1,
    )
    assert (total["done"], total["cannot_reach"], total["cancelled"]) == (2, 1, 1)
    assert (total["open"], total["overdue"], total["time_to_done_average_hours"]) == (3, 2, 4.0)
    # The day alone is over: at its end nothing was overdue yet, the rest as at NOW.
    report = await task_report(database, period, now=NOW)
    day = report.total.as_dict()
    assert (day["created"], day["done"], day["cannot_reach"], day["cancelled"]) == (7, 2, 1, 1)
    assert (day["open"], day["overdue"]) == (3, 0)
    report = await task_report(database, running, now=NOW)
    owners = {k: v.as_dict() for k, v in report.by_owner.items()}
    assert list(owners) == ["alice", "bob", "unassigned"]
    alice = owners["alice"]  # with the next day's task
    assert (alice["created"], alice["done"], alice["overdue"], alice["cancelled"]) == (4, 1, 1, 1)
    assert (owners["bob"]["cannot_reach"], owners["bob"]["time_to_done_average_hours"]) == (1, 6.0)
    assert (owners["unassigned"]["open"], owners["unassigned"]["overdue"]) == (2, 1)
    mine = await task_report(database, period, owners=["alice"], now=NOW)
    assert mine.total.as_dict()["created"] == 3 and list(mine.by_owner) == ["alice"]
    with pytest.raises(ValidationFailed) as refused:
        await task_report(database, period, owners=["nobody"], now=NOW)
    assert refused.value.field == "owner"
    empty = await task_report(database, EMPTY, owners=["bob"], now=NOW)
    assert empty.total.as_dict()["created"] == 0 and list(empty.by_owner) == ["bob"]
