"""The dialer and its dialogs against the real Asterisk sandbox, checked in the database and in
Asterisk's own AMI events (never in the dialer's counters)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.asterisk import const
from callcenter.calls.channel_ids import channel_id
from hcrm_core.actors import Actor
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    Call,
    CallDirection,
    CampaignAttempt,
    CampaignStatus,
    Channel,
    Patient,
)
from hcrm_core.services.appointments import BookingRequest
from tests.integration.callcenter.outbound.conftest import CALLER_ID, OutboundRig
from tests.support.factories import make_hospital, make_patient
from tests.support.rig import agent_extension

pytestmark = pytest.mark.asterisk
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def ended(rows: list[CampaignAttempt]) -> bool:
    return bool(rows) and all(r.ended_at is not None for r in rows)


async def patient_ids(out: OutboundRig, count: int) -> list[int]:
    return [
        (await make_patient(out.database, out.policy, phones=(out.phone,))).id for _ in range(count)
    ]


async def test_reminder_confirmed_and_cancelled(outbound: OutboundRig) -> None:
    out = outbound
    hospital = await make_hospital(out.database, out.policy, days=10)
    keeps, cancels = await patient_ids(out, 2)
    slots = await hospital.free_slots(department_id=hospital.cardiology.id, limit=4)
    booked = {}
    for patient_id, slot in ((keeps, slots[-1]), (cancels, slots[-2])):
        booked[patient_id] = await out.appointments.book(
            BookingRequest(patient_id, slot.slot_id, Channel.AGENT, Actor.system())
        )
    out.callees.keys[keeps].append("1")
    out.callees.keys[cancels].append("2")
    campaign = await out.campaign("reminder", [keeps, cancels])
    await out.campaigns.start(campaign.id, Actor.system())
    await out.bring_forward(campaign.id)  # the day before is now
    await out.start_dialer()
    rows = await out.wait_attempts(campaign.id, ended)
    by_patient = {r.patient_id: r for r in rows}
    assert len(rows) == 2
    assert (by_patient[keeps].status, by_patient[keeps].outcome_detail) == (
        AttemptStatus.COMPLETED,
        "confirmed",
    )
    assert by_patient[cancels].outcome_detail == "appointment_cancelled"
    assert await out.answers.answers(by_patient[keeps].id) == {"reminder": "confirmed"}
    kept = await out.appointments.get(booked[keeps].id)
    gone = await out.appointments.get(booked[cancels].id)
    assert kept.status is AppointmentStatus.BOOKED
    assert (gone.status, gone.cancel_channel) == (AppointmentStatus.CANCELLED, Channel.OUTBOUND)
    # The attempt id is the call's Linkedid, and the hospital's caller ID was presented.
    linkedid = channel_id(out.prefix, by_patient[keeps].id)
    await out.rig.ended(linkedid)
    call = await out.rig.row(linkedid)
    assert call.caller_number == CALLER_ID
    # The call log knows it for a campaign call, with the dialog's last step.
    assert call.direction is CallDirection.OUTBOUND
    assert call.campaign_attempt_id == by_patient[keeps].id
    assert call.ivr_last_step is not None
    assert "callcenter/outbound/reminder-menu" in out.asked


@SQLITE_ONLY
async def test_survey_answers_are_stored_and_escalated(outbound: OutboundRig) -> None:
    out = outbound
    (patient_id,) = await patient_ids(out, 1)
    out.callees.keys[patient_id].extend(["1", "2", "1"])  # answer; poorly; new symptom
    campaign = await out.campaign("post_discharge", [patient_id])
    async with out.database.transaction() as session:
        patient = await session.get(Patient, patient_id)
        assert patient is not None
        patient.discharged_at = datetime.now(UTC) - timedelta(days=2)
    await out.campaigns.start(campaign.id, Actor.system())
    await out.bring_forward(campaign.id)
    await out.start_dialer()
    (row,) = await out.wait_attempts(campaign.id, ended)
    assert (row.status, row.outcome_detail) == (AttemptStatus.COMPLETED, "escalated")
    assert await out.answers.answers(row.id) == {"feeling": "poorly", "new_symptom": "yes"}
    tasks = await out.answers.open_tasks_for(patient_id)
    assert [(t.priority, t.source_attempt_id) for t in tasks] == [(1, row.id), (1, row.id)]
    progress = await out.campaigns.progress(campaign.id)
    assert (progress.dialled, progress.answered, progress.escalated) == (1, 1, 2)


@SQLITE_ONLY
async def test_busy_then_answered_and_no_answer_until_max(outbound: OutboundRig) -> None:
    out = outbound
    busy_first, never = await patient_ids(out, 2)
    out.callees.outcomes = {busy_first: ["busy", "answer"], never: ["noanswer"]}
    out.callees.keys[busy_first].extend(["1", "9"])  # answers, then NPS 9
    out.callees.hold = "30"
    rules = {
        "busy": {"retry_delay_minutes": 5, "max_attempts": 3},
        "no_answer": {"retry_delay_minutes": 30, "max_attempts": 2},
    }
    campaign = await out.campaign(
        "survey", [busy_first, never], retries=rules, ring_timeout_seconds=5
    )
    started = datetime.now(UTC)
    await out.campaigns.start(campaign.id, Actor.system())
    await out.start_dialer()

    def first_round(rows: list[CampaignAttempt]) -> bool:
        return len(rows) == 4 and sum(r.ended_at is not None for r in rows) == 2

    rows = await out.wait_attempts(campaign.id, first_round)
    retries = [r for r in rows if r.attempt_no == 2]
    assert {r.patient_id for r in retries} == {busy_first, never}
    by_patient = {r.patient_id: r for r in retries}
    # Each retry waits its own outcome's delay.
    assert by_patient[busy_first].scheduled_for >= started + timedelta(minutes=5)
    assert by_patient[never].scheduled_for >= started + timedelta(minutes=30)
    await out.bring_forward(campaign.id)
    rows = await out.wait_attempts(campaign.id, lambda rs: len(rs) == 4 and ended(rs))
    outcomes = sorted((r.patient_id, r.attempt_no, r.status) for r in rows)
    assert outcomes == sorted(
        [
            (busy_first, 1, AttemptStatus.BUSY),
            (busy_first, 2, AttemptStatus.COMPLETED),
            (never, 1, AttemptStatus.NO_ANSWER),
            (never, 2, AttemptStatus.NO_ANSWER),  # max attempts: no third
        ]
    )
    answered = next(r for r in rows if r.status is AttemptStatus.COMPLETED)
    assert await out.answers.answers(answered.id) == {"nps": "9"}
    # Four calls were placed in Asterisk, one per attempt.
    placed = {e.uniqueid for e in out.seen if e.name == "Newchannel"}
    assert placed == {channel_id(out.prefix, r.id) for r in rows}
    # Nothing left to dial: the dialer marks the campaign completed.
    await out.wait_status(campaign.id, CampaignStatus.COMPLETED)


@SQLITE_ONLY
async def test_opt_out_sets_do_not_call_and_cancels_queued_calls(outbound: OutboundRig) -> None:
    out = outbound
    (patient_id,) = await patient_ids(out, 1)
    out.callees.keys[patient_id].append("9")
    survey = await out.campaign("survey", [patient_id])
    later = await out.campaign("adherence", [patient_id])
    await out.campaigns.start(later.id, Actor.system())
    await out.campaigns.pause(later.id, Actor.system())  # queued, waiting
    await out.campaigns.start(survey.id, Actor.system())
    await out.start_dialer()
    (row,) = await out.wait_attempts(survey.id, ended)
    assert row.outcome_detail == "opted_out"
    async with out.database.session() as session:
        patient = await session.get(Patient, patient_id)
        assert patient is not None and patient.do_not_call
    (queued,) = await out.attempts_of(later.id)
    assert (queued.status, queued.outcome_detail) == (AttemptStatus.CANCELLED, "opted_out")


@SQLITE_ONLY
async def test_nothing_is_dialled_outside_the_window(outbound: OutboundRig) -> None:
    out = outbound
    ids = await patient_ids(out, 2)
    today = datetime.now(out.zone).weekday()
    campaign = await out.campaign(
        "survey", ids, window={"weekdays": [(today + 1) % 7, (today + 2) % 7]}
    )
    await out.campaigns.start(campaign.id, Actor.system())
    dialer = await out.start_dialer()

    def moved(rows: list[CampaignAttempt]) -> bool:
        return all(r.scheduled_for > datetime.now(UTC) + timedelta(hours=1) for r in rows)

    rows = await out.wait_attempts(campaign.id, moved)
    for _ in range(20):  # many ticks: still nothing placed
        await dialer.tick()
    assert all(r.status is AttemptStatus.SCHEDULED for r in rows)
    tomorrow = (datetime.now(out.zone) + timedelta(days=1)).date()
    assert all(r.scheduled_for.astimezone(out.zone).date() == tomorrow for r in rows)
    assert [e for e in out.seen if e.name == "Newchannel"] == []
    assert dialer.originated == 0


def _concurrency(out: OutboundRig) -> tuple[int, list[float]]:
    """Highest number of campaign calls up at once, and their start times (AMI events)."""
    live, highest, starts = 0, 0, []
    for event in out.seen:
        if event.name == "Newchannel":
            live += 1
            starts.append(event.received_at)
        elif event.name == "Hangup":
            live -= 1
        highest = max(highest, live)
    return highest, starts


@SQLITE_ONLY
async def test_concurrency_cap_holds_in_asterisk(outbound: OutboundRig) -> None:
    out = outbound
    ids = await patient_ids(out, 6)
    out.callees.hold = "2"  # answer, stay two seconds, hang up
    # The rate alone would put five or six calls up at once: the cap must hold them to two.
    campaign = await out.campaign("survey", ids, max_concurrent=2, calls_per_second=10.0)
    await out.campaigns.start(campaign.id, Actor.system())
    await out.start_dialer()
    await out.wait_attempts(campaign.id, lambda rs: len(rs) == 6 and ended(rs), timeout=90)
    highest, starts = _concurrency(out)
    assert len(starts) == 6
    assert highest == 2  # reached, never exceeded


@SQLITE_ONLY
async def test_calls_per_second_hold_in_asterisk(outbound: OutboundRig) -> None:
    out = outbound
    ids = await patient_ids(out, 5)
    out.callees.hold = "1"
    campaign = await out.campaign("survey", ids, max_concurrent=10, calls_per_second=1.0)
    await out.campaigns.start(campaign.id, Actor.system())
    await out.start_dialer()
    await out.wait_attempts(campaign.id, lambda rs: len(rs) == 5 and ended(rs), timeout=90)
    _highest, starts = _concurrency(out)
    assert len(starts) == 5
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) > 0.8, gaps  # one call per second at most


@SQLITE_ONLY
async def test_restart_mid_campaign_dials_nobody_twice(outbound: OutboundRig) -> None:
    out = outbound
    ids = await patient_ids(out, 3)
    out.callees.hold = "4"
    campaign = await out.campaign("survey", ids, max_concurrent=3, calls_per_second=10)
    await out.campaigns.start(campaign.id, Actor.system())
    first = await out.start_dialer()

    def all_dialled(rows: list[CampaignAttempt]) -> bool:
        return all(r.status is not AttemptStatus.SCHEDULED for r in rows)

    await out.wait_attempts(campaign.id, all_dialled)
    # The server goes away while the calls are up...
    await out.stop_dialer(first)
    await asyncio.sleep(0)  # (no events reach the stopped dialer from here on)
    in_flight = await out.attempts.in_flight()
    assert {a.attempt_id for a in in_flight} == {r.id for r in await out.attempts_of(campaign.id)}
    # ...and comes back: the live calls are adopted, not dialled again, and settled.
    second = await out.start_dialer()
    rows = await out.wait_attempts(campaign.id, lambda rs: len(rs) == 3 and ended(rs))
    assert second.originated == 0
    placed = [e.uniqueid for e in out.seen if e.name == "Newchannel"]
    assert sorted(placed) == sorted(channel_id(out.prefix, r.id) for r in rows)
    assert {r.status for r in rows} == {AttemptStatus.COMPLETED}


@SQLITE_ONLY
async def test_calls_that_ended_while_down_are_settled_from_the_call_log(
    outbound: OutboundRig,
) -> None:
    out = outbound
    ids = await patient_ids(out, 2)
    out.callees.outcomes = {ids[0]: ["answer"], ids[1]: ["noanswer"]}
    out.callees.hold = "1"
    campaign = await out.campaign("survey", ids, ring_timeout_seconds=5, calls_per_second=10)
    await out.campaigns.start(campaign.id, Actor.system())
    first = await out.start_dialer()
    rows = await out.wait_attempts(
        campaign.id, lambda rs: all(r.status is not AttemptStatus.SCHEDULED for r in rs)
    )
    # The whole server goes away (dialer and dialogs) while the calls are up.
    await out.stop_dialer(first)
    await out.server.stop()
    for row in rows:  # both calls end while no dialer listens
        await out.rig.ended(channel_id(out.prefix, row.id))
    await out.rig.writer.flush()
    second = await out.start_dialer()
    rows = await out.wait_attempts(
        campaign.id, lambda rs: sum(r.attempt_no == 1 and r.ended_at is not None for r in rs) == 2
    )
    firsts = {r.patient_id: r for r in rows if r.attempt_no == 1}
    assert (firsts[ids[0]].status, firsts[ids[0]].outcome_detail) == (
        AttemptStatus.COMPLETED,
        "ended_while_away",
    )
    assert firsts[ids[1]].status is AttemptStatus.NO_ANSWER
    assert second.originated == 0
    async with out.database.session() as session:
        calls = (
            await session.scalars(select(Call).where(Call.linkedid.startswith(out.prefix)))
        ).all()
    assert len(calls) == 2
    async with out.database.session() as session:
        assert (await session.scalars(select(Appointment))).all() == []


@SQLITE_ONLY
async def test_answering_machine_gets_the_short_message_and_a_retry(outbound: OutboundRig) -> None:
    out = outbound
    (patient_id,) = await patient_ids(out, 1)
    out.callees.outcomes = {patient_id: ["machine"]}
    campaign = await out.campaign("survey", [patient_id], amd=True)
    started = datetime.now(UTC)
    await out.campaigns.start(campaign.id, Actor.system())
    await out.start_dialer()
    rows = await out.wait_attempts(campaign.id, lambda rs: len(rs) == 2)
    first, retry = rows
    assert (first.status, first.outcome_detail) == (AttemptStatus.MACHINE, "machine")
    assert await out.answers.answers(first.id) == {}
    # Default rule for machines: another try four hours later.
    assert retry.attempt_no == 2 and retry.status is AttemptStatus.SCHEDULED
    assert retry.scheduled_for >= started + timedelta(minutes=240)
    assert "callcenter/outbound/survey-intro" not in out.asked


@SQLITE_ONLY
async def test_progressive_calls_wait_for_a_free_agent(outbound: OutboundRig) -> None:
    out = outbound
    queue = "appointments"
    ids = await patient_ids(out, 2)
    out.callees.hold = "30"
    out.callees.variables = {"__SIM_AGENT_RING": "0", "__SIM_AGENT_TALK": "1"}
    interface = f"Local/{agent_extension(1)}@{const.CONTEXT_SIM_AGENTS}"
    bridge = out.rig.bridge
    # Agents of other test sessions may sit in the shared sandbox's queue: they count too.
    others = [
        m
        for m in await bridge.queue_status()
        if m.name == "QueueMember" and m.queue == queue and m.get("Status") == "1"
    ]
    await bridge.send_action({"Action": "QueueAdd", "Queue": queue, "Interface": interface})
    try:
        campaign = await out.campaign(
            "survey",
            ids,
            mode="progressive",
            agent_queue=queue,
            max_concurrent=5,
            recording="always",
        )
        await out.campaigns.start(campaign.id, Actor.system())
        await out.start_dialer()
        rows = await out.wait_attempts(campaign.id, lambda rs: len(rs) == 2 and ended(rs), 90)
    finally:
        await bridge.send_action({"Action": "QueueRemove", "Queue": queue, "Interface": interface})
    assert [(r.status, r.outcome_detail) for r in rows] == [(AttemptStatus.COMPLETED, "agent")] * 2
    highest, _starts = _concurrency(out)
    assert highest <= 1 + len(others), (highest, len(others))
    assert out.asked == []  # no dialog: straight to a person
    # The campaign's recording policy reached the dialplan: each call with its agent is
    # recorded, named by the call's Linkedid (the attempt's channel id).
    recordings = out.box.sandbox.recordings_dir
    for row in rows:
        name = f"{channel_id(out.prefix, row.id)}-"
        assert any(p.name.startswith(name) for p in recordings.iterdir()), name
