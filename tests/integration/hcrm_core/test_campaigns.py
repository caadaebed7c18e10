"""Campaign and attempt services on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import (
    Appointment,
    AttemptStatus,
    CampaignAttempt,
    CampaignStatus,
    Channel,
    ChronicCondition,
    ExceptionKind,
    FollowUpTask,
    Patient,
    ScheduleException,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_answers import AnswerService
from hcrm_core.services.campaigns_attempts import AttemptService, day_start
from hcrm_core.services.campaigns_errors import CampaignStateError, NotDialable, PatientOnCall
from tests.support.factories import make_hospital, make_patient

ADMIN = Actor("user:admin", user_id=None)
NOW = datetime(2030, 3, 5, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


async def _patient(database: Database, policy: BookingPolicy, phone: str, **flags: Any) -> Patient:
    patient = await make_patient(database, policy, phones=(phone,))
    if flags:
        async with database.transaction() as session:
            await session.execute(update(Patient).where(Patient.id == patient.id).values(**flags))
    return patient


async def _attempts(database: Database, campaign_id: int) -> list[CampaignAttempt]:
    async with database.session() as session:
        rows = await session.scalars(
            select(CampaignAttempt)
            .where(CampaignAttempt.campaign_id == campaign_id)
            .order_by(CampaignAttempt.id)
        )
        return list(rows)


@pytest.mark.parametrize(
    ("kind", "settings", "field"),
    [
        ("robocall", {}, "kind"),
        ("survey", {"window": {"start": "07:00"}}, "window"),
        ("survey", {"max_concurrent": 0}, "max_concurrent"),
        (
            "survey",
            {"questions": [{"key": "q", "text": {"en": "?"}, "options": {"9": "yes"}}]},
            "questions.0",
        ),
        ("survey", {"retries": {"completed": {"retry_delay_minutes": 1, "max_attempts": 2}}}, ""),
        ("adherence", {"questions": []}, "questions"),
    ],
)
async def test_bad_settings_name_the_field(
    database: Database, policy: BookingPolicy, kind: str, settings: dict[str, Any], field: str
) -> None:
    service = CampaignService(database, policy)
    with pytest.raises(ValidationFailed) as raised:
        await service.create("Bad", kind, settings, ADMIN)
    assert raised.value.field.startswith(field)
    assert await service.all() == []


async def test_targets_respect_consent_do_not_call_and_filters(
    database: Database, policy: BookingPolicy
) -> None:
    keep = await _patient(database, policy, "+12125550101", discharged_at=NOW - timedelta(days=3))
    await _patient(database, policy, "+12125550102", do_not_call=True, discharged_at=NOW)
    await _patient(database, policy, "+12125550103", consent_call=False, discharged_at=NOW)
    other = await _patient(database, policy, "+12125550104", discharged_at=NOW - timedelta(days=40))
    async with database.transaction() as session:
        session.add(ChronicCondition(patient_id=keep.id, code="E11", name="Diabetes"))
        session.add(ChronicCondition(patient_id=other.id, code="I10", name="Hypertension"))
    service = CampaignService(database, policy)
    window = {"discharged_from": (NOW - timedelta(days=10)).date().isoformat()}
    follow_up = await service.create(
        "Discharged", "post_discharge", {"targets": window, "followup_day": 5}, ADMIN
    )
    assert await service.start(follow_up.id, ADMIN, now=NOW) == 1
    (attempt,) = await _attempts(database, follow_up.id)
    assert (attempt.patient_id, attempt.phone_e164) == (keep.id, "+12125550101")
    # Discharged three days ago, called on day 5 at the window's opening (08:00 New York).
    assert attempt.scheduled_for == datetime(2030, 3, 7, 13, 0, tzinfo=UTC)
    adherence = await service.create(
        "Diabetes", "adherence", {"targets": {"condition_code": "e11"}}, ADMIN
    )
    assert await service.start(adherence.id, ADMIN, now=NOW) == 1
    assert [a.patient_id for a in await _attempts(database, adherence.id)] == [keep.id]
    assert (await service.get(adherence.id)).status is CampaignStatus.RUNNING


async def test_reminders_target_booked_appointments_the_day_before(
    database: Database, policy: BookingPolicy
) -> None:
    hospital = await make_hospital(database, policy, days=10)
    patient = await _patient(database, policy, "+12125550105")
    slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=3))[-1]
    appointments = AppointmentService(database, policy)
    booked = await appointments.book(
        BookingRequest(patient.id, slot.slot_id, Channel.AGENT, Actor.system())
    )
    service = CampaignService(database, policy)
    campaign = await service.create(
        "Reminders", "reminder", {"targets": {"department_id": hospital.cardiology.id}}, ADMIN
    )
    now = datetime.now(UTC)
    assert await service.start(campaign.id, ADMIN, now=now) == 1
    (attempt,) = await _attempts(database, campaign.id)
    assert attempt.appointment_id == booked.id
    eve = booked.local_date - timedelta(days=1)
    expected = max(
        now, datetime.combine(eve, datetime.min.time(), policy.timezone) + timedelta(hours=8)
    )
    assert attempt.scheduled_for == expected
    # Cancelled before the reminder's turn: the reminder is cancelled, never dialled.
    await appointments.cancel(
        booked.id, actor=Actor.system(), channel=Channel.AGENT, enforce_cutoff=False
    )
    attempts = AttemptService(database)
    with pytest.raises(NotDialable) as refused:
        await attempts.claim(
            attempt.id, now=now, day_start=day_start(now, policy.timezone), max_per_day=3
        )
    assert refused.value.reason == "appointment_not_active"
    assert (await attempts.get(attempt.id)).status is AttemptStatus.CANCELLED


async def test_claim_writes_dialling_first_and_one_call_per_patient(
    database: Database, policy: BookingPolicy
) -> None:
    patient = await _patient(database, policy, "+12125550106")
    service = CampaignService(database, policy)
    attempts = AttemptService(database)
    targets = {"targets": {"patient_ids": [patient.id]}}
    first = await service.create("A", "survey", targets, ADMIN)
    second = await service.create("B", "survey", targets, ADMIN)
    await service.start(first.id, ADMIN, now=NOW)
    await service.start(second.id, ADMIN, now=NOW)
    ((a1, _),) = await attempts.due(first.id, NOW, 10)
    ((a2, _),) = await attempts.due(second.id, NOW, 10)
    start = day_start(NOW, policy.timezone)
    # Two dialers racing for one patient: exactly one wins, at the database.
    results = await asyncio.gather(
        attempts.claim(a1, now=NOW, day_start=start, max_per_day=3),
        attempts.claim(a2, now=NOW, day_start=start, max_per_day=3),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], PatientOnCall), results
    claimed = await attempts.get(won[0].attempt_id)
    assert claimed.status is AttemptStatus.DIALLING and claimed.dialled_at == NOW
    with pytest.raises(NotDialable) as again:
        await attempts.claim(won[0].attempt_id, now=NOW, day_start=start, max_per_day=3)
    assert again.value.reason == "not_scheduled"


async def test_busy_is_retried_per_rule_until_max_attempts(
    database: Database, policy: BookingPolicy
) -> None:
    patient = await _patient(database, policy, "+12125550107")
    service = CampaignService(database, policy)
    attempts = AttemptService(database)
    rules = {"busy": {"retry_delay_minutes": 10, "max_attempts": 2}}
    campaign = await service.create(
        "Busy", "survey", {"targets": {"patient_ids": [patient.id]}, "retries": rules}, ADMIN
    )
    await service.start(campaign.id, ADMIN, now=NOW)
    start = day_start(NOW, policy.timezone)
    ((first, _),) = await attempts.due(campaign.id, NOW, 10)
    await attempts.claim(first, now=NOW, day_start=start, max_per_day=5)
    retry = await attempts.finish(first, AttemptStatus.BUSY, now=NOW)
    assert retry is not None
    assert await attempts.due(campaign.id, NOW, 10) == []
    later = NOW + timedelta(minutes=10)
    assert await attempts.due(campaign.id, later, 10) == [(retry, "+12125550107")]
    await attempts.claim(retry, now=later, day_start=start, max_per_day=5)
    # A duplicate outcome changes nothing; the second busy is the last attempt.
    assert await attempts.finish(retry, AttemptStatus.BUSY, now=later) is None
    assert await attempts.finish(retry, AttemptStatus.COMPLETED, now=later) is None
    rows = await _attempts(database, campaign.id)
    assert [(a.attempt_no, a.status) for a in rows] == [
        (1, AttemptStatus.BUSY),
        (2, AttemptStatus.BUSY),
    ]
    progress = await service.progress(campaign.id)
    assert (progress.dialled, progress.failed, progress.scheduled) == (2, 2, 0)
    assert await service.complete_if_done(campaign.id)


async def test_daily_limit_moves_the_attempt_to_tomorrow(
    database: Database, policy: BookingPolicy
) -> None:
    patient = await _patient(database, policy, "+12125550108")
    service = CampaignService(database, policy)
    attempts = AttemptService(database)
    campaign = await service.create(
        "Limit", "survey", {"targets": {"patient_ids": [patient.id]}}, ADMIN
    )
    await service.start(campaign.id, ADMIN, now=NOW)
    start = day_start(NOW, policy.timezone)
    ((first, _),) = await attempts.due(campaign.id, NOW, 10)
    await attempts.claim(first, now=NOW, day_start=start, max_per_day=1)
    retry = await attempts.finish(first, AttemptStatus.NO_ANSWER, now=NOW)
    assert retry is not None
    async with database.transaction() as session:
        await session.execute(
            update(CampaignAttempt).where(CampaignAttempt.id == retry).values(scheduled_for=NOW)
        )
    with pytest.raises(NotDialable) as refused:
        await attempts.claim(retry, now=NOW, day_start=start, max_per_day=1)
    assert refused.value.reason == "daily_limit"
    moved = await attempts.get(retry)
    assert moved.status is AttemptStatus.SCHEDULED
    assert moved.scheduled_for == start + timedelta(days=1)


async def test_answers_escalate_and_opt_out_cancels_everything_queued(
    database: Database, policy: BookingPolicy
) -> None:
    patient = await _patient(database, policy, "+12125550109")
    service = CampaignService(database, policy)
    attempts = AttemptService(database)
    answers = AnswerService(database)
    targets = {"targets": {"patient_ids": [patient.id]}}
    survey = await service.create("NPS", "survey", targets, ADMIN)
    follow_up = await service.create("Meds", "adherence", targets, ADMIN)
    await service.start(survey.id, ADMIN, now=NOW)
    await service.start(follow_up.id, ADMIN, now=NOW)
    ((attempt_id, _),) = await attempts.due(survey.id, NOW, 10)
    await attempts.claim(
        attempt_id, now=NOW, day_start=day_start(NOW, policy.timezone), max_per_day=3
    )
    await attempts.mark_answered(attempt_id)
    info = await answers.dialog(attempt_id)
    nps = info.config.questions[0]
    assert nps.parse("10#") == "10" and nps.parse("11") is None and nps.parse("7") == "7"
    assert not await answers.record_answer(info, "nps", "9")
    assert await answers.record_answer(info, "nps", "4")
    (task,) = await answers.open_tasks_for(patient.id)
    assert task.priority == 1 and task.source_attempt_id == attempt_id
    assert "low satisfaction" in task.reason
    assert await answers.opt_out(attempt_id, Actor("dialer")) == 1
    async with database.session() as session:
        assert (await session.get(Patient, patient.id)).do_not_call  # type: ignore[union-attr]
        cancelled = await session.scalar(
            select(func.count())
            .select_from(CampaignAttempt)
            .where(CampaignAttempt.status == AttemptStatus.CANCELLED)
        )
    assert cancelled == 1
    await attempts.finish(attempt_id, AttemptStatus.COMPLETED, detail="opted_out")
    progress = await service.progress(survey.id)
    assert (progress.answered, progress.completed, progress.escalated) == (1, 1, 1)
    (row,) = await service.results(survey.id)
    assert row["answers"] == {"nps": "4"} and row["detail"] == "opted_out"


async def test_stop_cancels_what_is_not_dialled_and_cannot_restart(
    database: Database, policy: BookingPolicy
) -> None:
    patients = [await _patient(database, policy, f"+1212555011{n}") for n in range(3)]
    service = CampaignService(database, policy)
    campaign = await service.create(
        "Stop", "survey", {"targets": {"patient_ids": [p.id for p in patients]}}, ADMIN
    )
    assert await service.start(campaign.id, ADMIN, now=NOW) == 3
    await service.pause(campaign.id, ADMIN)
    assert await service.start(campaign.id, ADMIN, now=NOW) == 0  # resumed, nothing new
    assert await service.stop(campaign.id, ADMIN) == 3
    with pytest.raises(CampaignStateError):
        await service.start(campaign.id, ADMIN, now=NOW)
    assert {a.status for a in await _attempts(database, campaign.id)} == {AttemptStatus.CANCELLED}
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(FollowUpTask)) == 0
        assert await session.scalar(select(func.count()).select_from(Appointment)) == 0


async def test_consent_withdrawn_after_scheduling_is_never_dialled(
    database: Database, policy: BookingPolicy
) -> None:
    patients = [await _patient(database, policy, f"+1212555012{n}") for n in range(2)]
    service = CampaignService(database, policy)
    attempts = AttemptService(database)
    campaign = await service.create(
        "Late", "survey", {"targets": {"patient_ids": [p.id for p in patients]}}, ADMIN
    )
    await service.start(campaign.id, ADMIN, now=NOW)
    async with database.transaction() as session:
        await session.execute(
            update(Patient).where(Patient.id == patients[0].id).values(consent_call=False)
        )
        await session.execute(
            update(Patient).where(Patient.id == patients[1].id).values(do_not_call=True)
        )
    start = day_start(NOW, policy.timezone)
    for attempt_id, _phone in await attempts.due(campaign.id, NOW, 10):
        with pytest.raises(NotDialable) as refused:
            await attempts.claim(attempt_id, now=NOW, day_start=start, max_per_day=3)
        assert refused.value.reason == "do_not_call"
    rows = await _attempts(database, campaign.id)
    assert [(a.status, a.dialled_at) for a in rows] == [(AttemptStatus.CANCELLED, None)] * 2


async def test_hospital_holidays_are_local_days(database: Database, policy: BookingPolicy) -> None:
    tz = policy.timezone
    async with database.transaction() as session:
        session.add(
            ScheduleException(
                doctor_id=None,
                kind=ExceptionKind.HOLIDAY,
                starts_at=datetime(2030, 7, 4, 0, 0, tzinfo=tz),
                ends_at=datetime(2030, 7, 6, 0, 0, tzinfo=tz),
                reason="Independence Day",
            )
        )
    days = await CampaignService(database, policy).holidays(date(2030, 7, 1), 10)
    assert days == frozenset({date(2030, 7, 4), date(2030, 7, 5)})


async def test_abandon_counts_come_from_the_stored_attempts(
    database: Database, policy: BookingPolicy
) -> None:
    # Progressive mode's abandon rate: what a restarted dialer (or another server) reads.
    patients = [await _patient(database, policy, f"+1212555013{n}") for n in range(4)]
    service = CampaignService(database, policy)
    attempts = AttemptService(database)
    targets = {"targets": {"patient_ids": [p.id for p in patients]}, "mode": "progressive"}
    campaign = await service.create("Progressive", "survey", targets, ADMIN)
    other = await service.create("Other", "survey", targets, ADMIN)
    await service.start(campaign.id, ADMIN, now=NOW)
    await service.start(other.id, ADMIN, now=NOW)
    assert await attempts.abandon_counts(campaign.id) == (0, 0)
    start = day_start(NOW, policy.timezone)
    due = [attempt_id for attempt_id, _ in await attempts.due(campaign.id, NOW, 10)]
    for attempt_id in due:
        await attempts.claim(attempt_id, now=NOW, day_start=start, max_per_day=5)
    outcomes = ["agent", "abandoned", None, "busy"]
    for attempt_id, detail in zip(due, outcomes, strict=True):
        if detail == "busy":
            await attempts.finish(attempt_id, AttemptStatus.BUSY, detail=detail, now=NOW)
            continue
        await attempts.mark_answered(attempt_id)  # the third is still up, answered
        if detail is not None:
            await attempts.finish(attempt_id, AttemptStatus.COMPLETED, detail=detail, now=NOW)
    # Three answered (one still up), one of them abandoned; busy is no answer; the other
    # campaign's calls are not counted.
    assert await attempts.abandon_counts(campaign.id) == (3, 1)
    assert await attempts.abandon_counts(other.id) == (0, 0)
