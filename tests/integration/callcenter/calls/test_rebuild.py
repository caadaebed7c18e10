"""``reports rebuild``: recorded sandbox traffic, logged live by the tracker, folded again from
the stored events gives the same facts, field by field, and the same report."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy import delete, select, update

from callcenter.ami.events import AmiEvent, Headers
from callcenter.ami.protocol import parse_stream
from callcenter.bus import EventBus
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.rebuild import FACTS, rebuild_calls
from callcenter.calls.state import EndReason, IvrProgress
from callcenter.calls.tracker import CallTracker
from hcrm_core.models import Call, CallEvent
from hcrm_core.services.patients import PatientService
from hcrm_core.services.reports_period import parse_period
from hcrm_core.services.reports_queues import queue_report
from tests.support.paths import AMI_FIXTURES

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
END = datetime(2026, 11, 24, tzinfo=UTC)
INBOUND = ["hospital-inbound"]


def _recorded(name: str, offset: float) -> list[AmiEvent]:
    events = parse_stream((AMI_FIXTURES / name).read_bytes())
    start = START.timestamp() + offset
    return [replace(e, received_at=start + i * 0.1) for i, e in enumerate(events)]


async def _log_live(database, policy) -> None:
    bus = EventBus()
    writer = CallLogWriter(database)
    tracker = CallTracker(
        bus, writer, database, PatientService(database, policy), inbound_contexts=INBOUND
    )
    await tracker.start()
    for name, offset in (("queue_call_answered.ami", 0.0), ("mixmonitor_calls.ami", 3600.0)):
        for event in _recorded(name, offset):
            tracker.process(event)
    await bus.join()
    await tracker.stop()
    await writer.flush()
    await bus.close()


async def _facts(database) -> dict[str, tuple[object, ...]]:
    async with database.session() as session:
        calls = (await session.scalars(select(Call))).all()
    return {c.linkedid: tuple(getattr(c, f) for f in FACTS) for c in calls}


async def test_rebuilt_facts_equal_the_live_ones(database, policy):
    await _log_live(database, policy)
    live = await _facts(database)
    assert len(live) >= 2
    period = parse_period("2026-11-23", "2026-11-23", "hour", ZoneInfo("UTC"))
    live_report = await queue_report(database, period)
    assert sum(line.total.answered for line in live_report.queues) >= 1

    result = await rebuild_calls(database, START, END, inbound_contexts=INBOUND)
    assert result.calls == len(live) and result.events > 40  # the events that decide facts
    assert result.differences == []

    # A call log that drifted (an answered call marked abandoned, its answer lost) is found
    # field by field and corrected from the events.
    answered = next(linkedid for linkedid, facts in live.items() if facts[6] is not None)
    async with database.transaction() as session:
        await session.execute(
            update(Call)
            .where(Call.linkedid == answered)
            .values(abandoned=True, answered_at=None, agent_interface=None)
        )
    drifted = await rebuild_calls(database, START, END, inbound_contexts=INBOUND, write=True)
    assert {(d.linkedid, d.field) for d in drifted.differences} == {
        (answered, "abandoned"),
        (answered, "answered_at"),
        (answered, "agent_interface"),
    }
    assert drifted.written == 1
    assert await _facts(database) == live
    rebuilt_report = await queue_report(database, period)
    assert [
        (line.queue, [b.as_dict() for b in line.buckets]) for line in rebuilt_report.queues
    ] == [(line.queue, [b.as_dict() for b in line.buckets]) for line in live_report.queues]


async def test_a_call_that_ended_in_the_menus_is_rebuilt_as_one(database, policy):
    # The IVR's progress is not an AMI event: the tracker learns it from our FastAGI. The
    # rebuild folds the stored ivr_entered_at in, so the end stays "hung up in the IVR" (it
    # was rebuilt as a plain hang-up, and --write would have overwritten every such call).
    linkedid = "1795000000.77"
    at = START.timestamp() + 7200
    channel = {"Uniqueid": linkedid, "Linkedid": linkedid, "Channel": "PJSIP/trunk-00000077"}
    newchannel = {
        **channel,
        "Context": INBOUND[0],
        "Exten": "s",
        "CallerIDNum": "+12125550177",
        "CallerIDName": "Caller",
    }
    bus = EventBus()
    writer = CallLogWriter(database)
    tracker = CallTracker(
        bus, writer, database, PatientService(database, policy), inbound_contexts=INBOUND
    )
    await tracker.start()
    bus.publish(AmiEvent("Newchannel", Headers.from_mapping(newchannel), at))
    bus.publish(IvrProgress(linkedid, "main-menu"))
    bus.publish(AmiEvent("Hangup", Headers.from_mapping({**channel, "Cause": "16"}), at + 9))
    await bus.join()
    await tracker.stop()
    await writer.flush()
    await bus.close()
    live = await _facts(database)
    assert live[linkedid][FACTS.index("end_reason")] == EndReason.IVR_HANGUP.value

    result = await rebuild_calls(database, START, END, inbound_contexts=INBOUND, write=True)
    assert result.calls == 1 and result.differences == []
    assert await _facts(database) == live


async def test_the_rebuild_command(database, policy, tmp_path, monkeypatch):
    from callcenter.cli import cli

    await _log_live(database, policy)
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", database.url)
    monkeypatch.setenv("CALLCENTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CALLCENTER_HOSPITAL__TIMEZONE", "UTC")
    runner = CliRunner()
    answer = await _in_thread(
        runner, cli, ["reports", "rebuild", "--from", "2026-11-23", "--to", "2026-11-23"]
    )
    assert answer.exit_code == 0, answer.output
    assert "0 differing facts" in answer.output and "events/s" in answer.output
    bad = await _in_thread(
        runner, cli, ["reports", "rebuild", "--from", "2026-11-24", "--to", "2026-11-23"]
    )
    assert bad.exit_code != 0 and "--from" in bad.output


async def _in_thread(runner, cli, args):
    import asyncio

    return await asyncio.to_thread(runner.invoke, cli, args)


async def test_an_end_not_in_the_events_is_kept(database, policy):
    # A call closed by a reconciliation (the link was lost): its Hangup was never stored.
    await _log_live(database, policy)
    live = await _facts(database)
    linkedid = next(iter(live))
    async with database.transaction() as session:
        await session.execute(
            delete(CallEvent).where(CallEvent.linkedid == linkedid, CallEvent.name == "Hangup")
        )
        await session.execute(
            update(Call)
            .where(Call.linkedid == linkedid)
            .values(end_reason="asterisk_unreachable", hangup_cause=None)
        )
    result = await rebuild_calls(database, START, END, inbound_contexts=INBOUND, write=True)
    assert result.ended_without_hangup == 1
    assert result.differences == [] and result.written == 0
