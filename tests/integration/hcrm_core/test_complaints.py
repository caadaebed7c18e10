"""Complaints to closure on SQLite and PostgreSQL: due moments in working days, the status
flow, the contact log and linked calls, refusals naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hcrm_core.actors import Actor
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import (
    AuditEvent,
    Call,
    CallDirection,
    ComplaintSeverity,
    ComplaintStatus,
    Holiday,
)
from hcrm_core.services.complaints import ComplaintChanges, ComplaintService, file_complaint
from hcrm_core.services.complaints_policy import DEFAULT_POLICY
from tests.support.factories import make_patient

TZ = ZoneInfo("America/New_York")


def test_due_moments_skip_weekends_and_holidays():
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=TZ)
    ack, respond = DEFAULT_POLICY.due(ComplaintSeverity.LOW, friday, TZ, {date(2026, 12, 8)})
    # low: 2 working days -> Tue 8th is a holiday, so Wed 9th; 10 working days -> 21st
    assert ack.astimezone(TZ) == datetime(2026, 12, 9, 15, 0, tzinfo=TZ)
    assert respond.astimezone(TZ).date() == date(2026, 12, 21)


async def test_a_complaint_is_worked_to_closure_and_reopened(database, policy):
    patient = await make_patient(database, policy)
    async with database.transaction() as session:
        session.add(
            Call(
                linkedid="cmp-1",
                direction=CallDirection.INBOUND,
                started_at=datetime.now(UTC),
                patient_id=patient.id,
                ivr_context={},
            )
        )
        session.add(Holiday(day=date.today() + timedelta(days=1), name="Feast", queue=None))
    agent = Actor("user:ann", user_id=None, source="test")
    complaint = await file_complaint(
        database,
        agent,
        patient_id=patient.id,
        category="waiting_time",
        description="Waited two hours",
        linkedid="cmp-1",
        severity="high",
        timezone=TZ,
    )
    assert complaint.status is ComplaintStatus.RECEIVED
    assert complaint.acknowledge_due_at is not None and complaint.respond_due_at is not None
    assert complaint.respond_due_at - complaint.created_at >= timedelta(days=3)
    service = ComplaintService(database, TZ)
    with pytest.raises(ValidationFailed) as refused:
        await file_complaint(database, agent, patient_id=patient.id, category="x", description="d")
    assert refused.value.field == "category"
    with pytest.raises(ValidationFailed) as refused:
        await service.update(complaint.id, agent, ComplaintChanges(status="closed"))
    assert refused.value.field == "status"
    await service.update(complaint.id, agent, ComplaintChanges(status="investigating"))
    await service.add_contact(
        complaint.id, agent, channel="phone", summary="Apologised; looking into it"
    )
    with pytest.raises(ValidationFailed) as refused:
        await service.add_contact(complaint.id, agent, channel="pigeon", summary="x")
    assert refused.value.field == "channel"
    await service.update(complaint.id, agent, ComplaintChanges(status="responded"))
    with pytest.raises(ValidationFailed) as refused:
        await service.update(complaint.id, agent, ComplaintChanges(status="closed"))
    assert refused.value.field == "closing_summary"
    closed = await service.update(
        complaint.id,
        agent,
        ComplaintChanges(status="closed", closing_summary="Clinic rota changed"),
    )
    assert closed.status is ComplaintStatus.CLOSED and closed.resolved_at is not None
    reopened = await service.update(complaint.id, agent, ComplaintChanges(status="reopened"))
    assert reopened.reopened_count == 1 and reopened.resolved_at is None
    detail = await service.get(complaint.id)
    assert [c.call.linkedid for c in detail.calls] == ["cmp-1"]
    assert [c.summary for c in detail.contacts] == ["Apologised; looking into it"]
    assert not detail.row.past_due
    assert [r.complaint.id for r in await service.list(view="open")] == [complaint.id]
    async with database.session() as session:
        actions = (
            await session.scalars(select(AuditEvent.detail).where(AuditEvent.entity == "complaint"))
        ).all()
    assert [a.get("status") for a in actions if "status" in a] == [
        ["received", "investigating"],
        ["investigating", "responded"],
        ["responded", "closed"],
        ["closed", "reopened"],
    ]


async def test_past_due_complaints_are_counted(database, policy):
    patient = await make_patient(database, policy)
    late_clock = lambda: datetime.now(UTC) + timedelta(days=30)  # noqa: E731
    await file_complaint(
        database,
        Actor.system(),
        patient_id=patient.id,
        category="staff",
        description="Rude",
        timezone=TZ,
    )
    assert await ComplaintService(database, TZ).past_due_count() == 0
    late = ComplaintService(database, TZ, clock=late_clock)
    assert await late.past_due_count() == 1
    assert len(await late.list(view="past_due")) == 1
