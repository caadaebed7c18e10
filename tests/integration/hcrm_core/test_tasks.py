"""The task inbox on SQLite and PostgreSQL: creation, claims (one winner), work, the board's
counts, refusals, and tasks for patients that are gone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from hcrm_core.actors import Actor
from hcrm_core.errors import PatientInactive, PatientNotFound, ValidationFailed
from hcrm_core.models import (
    AfterHoursKind,
    AuditEvent,
    FollowUpStatus,
    FollowUpTask,
    Patient,
    Role,
    TaskSource,
)
from hcrm_core.services.opening_hours import OpeningHoursService
from hcrm_core.services.tasks import (
    TaskFilter,
    TaskForbidden,
    TaskService,
    TaskTaken,
    create_task,
)
from hcrm_core.services.users import create_user
from tests.support.factories import make_patient

TZ = ZoneInfo("America/New_York")


async def _users(database) -> tuple[Actor, Actor, Actor]:
    async with database.transaction() as session:
        made = [
            await create_user(session, username=name, password="correct-horse-battery", role=role)
            for name, role in (
                ("ann", Role.AGENT),
                ("bob", Role.AGENT),
                ("sue", Role.SUPERVISOR),
            )
        ]
    return tuple(Actor.user(u.id, u.username, "test") for u in made)  # type: ignore[return-value]


async def test_create_task_joins_the_callers_transaction_and_refuses_bad_input(database, policy):
    patient = await make_patient(database, policy)
    due = datetime.now(UTC) + timedelta(hours=2)
    async with database.transaction() as session:
        task = await create_task(
            session,
            patient_id=patient.id,
            reason="  Nurse call: chest pain  ",
            source_kind="survey",
            source_ref="attempt:17",
            priority=1,
            due_at=due,
            queue="nurses",
            actor=Actor("dialer"),
        )
    async with database.session() as session:
        stored = await session.get(FollowUpTask, task.id)
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.entity == "task"))
    assert stored is not None
    assert (stored.reason, stored.source_kind, stored.source_ref, stored.queue) == (
        "Nurse call: chest pain",
        TaskSource.SURVEY,
        "attempt:17",
        "nurses",
    )
    assert stored.status is FollowUpStatus.OPEN and stored.due_at == due
    assert audit is not None and audit.detail["source_kind"] == "survey"

    bad = [
        ({"reason": "  "}, "reason"),
        ({"source_kind": "gossip"}, "source_kind"),
        ({"priority": 9}, "priority"),
        ({"due_at": datetime(2030, 1, 1)}, "due_at"),
    ]
    for change, field in bad:
        args = {
            "patient_id": patient.id,
            "reason": "x",
            "source_kind": "manual",
            "source_ref": None,
            "priority": 3,
            "due_at": None,
            "actor": Actor.system(),
        } | change
        with pytest.raises(ValidationFailed) as refused:
            async with database.transaction() as session:
                await create_task(session, **args)  # type: ignore[arg-type]
        assert refused.value.field == field
    async with database.session() as session:
        assert len((await session.scalars(select(FollowUpTask))).all()) == 1


async def test_a_task_for_a_missing_or_erased_patient_is_refused(database, policy):
    patient = await make_patient(database, policy)
    service = TaskService(database, TZ)
    with pytest.raises(PatientNotFound):
        await service.create(Actor.system(), patient_id=patient.id + 999, reason="call back")
    task = await service.create(Actor.system(), patient_id=patient.id, reason="call back")
    async with database.transaction() as session:
        await session.execute(update(Patient).where(Patient.id == patient.id).values(active=False))
    with pytest.raises(PatientInactive):
        await service.create(Actor.system(), patient_id=patient.id, reason="again")
    ann, _bob, _sue = await _users(database)
    # A task made before the patient was merged away cannot be claimed and worked.
    with pytest.raises(PatientInactive):
        await service.claim(task.id, ann)
    row = await service.get(task.id)
    assert row.task.status is FollowUpStatus.OPEN and row.patient_active is False


async def test_two_agents_claiming_one_task_exactly_one_wins(database, policy):
    patient = await make_patient(database, policy)
    ann, bob, _sue = await _users(database)
    service = TaskService(database, TZ)
    task = await service.create(Actor.system(), patient_id=patient.id, reason="call back")
    for _round in range(3):
        results = await asyncio.gather(
            service.claim(task.id, ann), service.claim(task.id, bob), return_exceptions=True
        )
        winners = [r for r in results if isinstance(r, FollowUpTask)]
        losers = [r for r in results if isinstance(r, TaskTaken)]
        assert len(winners) == 1 and len(losers) == 1, results
        stored = (await service.get(task.id)).task
        assert stored.status is FollowUpStatus.IN_PROGRESS
        assert stored.owner_user_id == winners[0].owner_user_id
        # Give it back for the next round.
        winner = ann if stored.owner_user_id == ann.user_id else bob
        await service.update(task.id, winner, supervisor=False, status="open")
        await service.assign(task.id, _sue, user_id=None)
    async with database.session() as session:
        claims = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "task", AuditEvent.entity_id == str(task.id)
                )
            )
        ).all()
    assert sum(1 for a in claims if a.detail.get("claimed")) == 3


async def test_work_a_task_to_done_and_the_inbox_filters(database, policy):
    patient = await make_patient(database, policy)
    ann, bob, sue = await _users(database)
    now = datetime.now(UTC)
    service = TaskService(database, TZ)
    late = await service.create(
        sue, patient_id=patient.id, reason="late one", due_at=now - timedelta(hours=1), queue="q1"
    )
    soon = await service.create(
        sue, patient_id=patient.id, reason="soon", due_at=now + timedelta(hours=1), priority=1
    )
    assert [r.task.id for r in await service.list(TaskFilter(overdue=True))] == [late.id]
    assert [r.task.id for r in await service.list(TaskFilter(queue="q1"))] == [late.id]
    assert (await service.counts()).overdue == 1

    await service.assign(soon.id, sue, user_id=bob.user_id)
    # The queue view lists only what nobody owns yet.
    assert [r.task.id for r in await service.list(TaskFilter(unowned=True))] == [late.id]
    assert [
        r.task.id for r in await service.list(TaskFilter(viewer_id=bob.user_id, mine=True))
    ] == [soon.id]
    with pytest.raises(TaskTaken):  # assigned to bob: ann cannot take it
        await service.claim(soon.id, ann)
    await service.claim(soon.id, bob)
    with pytest.raises(TaskForbidden):
        await service.update(soon.id, ann, supervisor=False, notes="not mine")
    with pytest.raises(ValidationFailed) as refused:
        await service.update(soon.id, bob, supervisor=False, status="done")
    assert refused.value.field == "outcome"
    with pytest.raises(ValidationFailed) as refused:
        await service.update(soon.id, bob, supervisor=False, status="sleeping")
    assert refused.value.field == "status"
    await service.record_dial(soon.id, bob, call_ref="task-1-abc")
    done = await service.update(
        soon.id, bob, supervisor=False, status="done", notes="rang twice", outcome="booked MRI"
    )
    assert done.status is FollowUpStatus.DONE and done.closed_at is not None
    assert done.last_call_ref == "task-1-abc" and done.outcome == "booked MRI"
    counts = await service.counts()
    assert (counts.open, counts.in_progress, counts.overdue) == (1, 0, 1)
    # A supervisor reopens; an agent cannot.
    with pytest.raises(TaskForbidden):
        await service.update(soon.id, ann, supervisor=False, status="open")
    reopened = await service.update(soon.id, sue, supervisor=True, status="open")
    assert reopened.status is FollowUpStatus.OPEN and reopened.closed_at is None


async def test_after_hours_requests_land_in_the_inbox_with_their_source(database, policy):
    patient = await make_patient(database, policy)
    hours = OpeningHoursService(database, TZ)
    request = await hours.record_request(
        AfterHoursKind.VOICEMAIL, "general", caller_number="+12025550100", patient_id=patient.id
    )
    rows = await TaskService(database, TZ).list(TaskFilter(queue="general"))
    assert [r.task.id for r in rows] == [request.task_id]
    assert rows[0].task.source_kind is TaskSource.VOICEMAIL
    assert rows[0].task.source_ref == f"after_hours_request:{request.id}"


async def test_an_adherence_patient_never_reached_becomes_a_task(database, policy):
    from hcrm_core.models import AttemptStatus, CampaignAttempt
    from hcrm_core.services.campaigns import CampaignService
    from hcrm_core.services.campaigns_attempts import AttemptService, day_start

    now = datetime(2030, 3, 5, 15, 0, tzinfo=UTC)
    patient = await make_patient(database, policy, phones=("+12125550177",))
    service = CampaignService(database, policy)
    settings = {
        "targets": {"patient_ids": [patient.id]},
        "retries": {"no_answer": {"retry_delay_minutes": 5, "max_attempts": 1}},
    }
    campaign = await service.create("Meds", "adherence", settings, Actor("user:admin"))
    assert await service.start(campaign.id, Actor("user:admin"), now=now) == 1
    async with database.session() as session:
        attempt_id = await session.scalar(select(CampaignAttempt.id))
    attempts = AttemptService(database)
    await attempts.claim(
        attempt_id, now=now, day_start=day_start(now, policy.timezone), max_per_day=3
    )
    assert await attempts.finish(attempt_id, AttemptStatus.NO_ANSWER, now=now) is None
    (row,) = await TaskService(database, TZ).list(TaskFilter())
    assert row.task.source_kind is TaskSource.CAMPAIGN
    assert row.task.source_ref == f"attempt:{attempt_id}" and "not reached" in row.task.reason
    progress = await service.progress(campaign.id)
    assert progress.escalated == 0  # an unreached patient is not a survey escalation
