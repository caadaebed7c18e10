"""What the agent desk reads and writes in the HCRM core, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from hcrm_core.actors import Actor
from hcrm_core.errors import PatientNotFound, ValidationFailed
from hcrm_core.models import (
    AuditEvent,
    Call,
    CallDirection,
    Channel,
    Complaint,
    ComplaintStatus,
    FollowUpStatus,
    FollowUpTask,
    PatientPhone,
    Role,
    Sex,
)
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.call_records import CallNotFound, CallRecords, CallViewer
from hcrm_core.services.complaints import file_complaint
from hcrm_core.services.contact_history import ContactHistory
from hcrm_core.services.patient_updates import PatientChanges, update_patient
from hcrm_core.services.patients import PatientService
from hcrm_core.services.users import create_user
from tests.support.factories import make_hospital, make_patient


async def _agent(database) -> Actor:
    async with database.transaction() as session:
        user = await create_user(
            session, username="alice", password="correct-horse-battery", role=Role.AGENT
        )
        return Actor.user(user.id, "alice", source="cc-test")


async def _call(database, linkedid: str, patient_id: int | None, minutes_ago: int) -> None:
    async with database.transaction() as session:
        session.add(
            Call(
                linkedid=linkedid,
                direction=CallDirection.INBOUND,
                started_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
                patient_id=patient_id,
                ivr_context={},
            )
        )


async def test_contact_history_lists_recent_calls_open_complaints_and_tasks(database, policy):
    patient = await make_patient(database, policy)
    other = await make_patient(database, policy)
    for n in range(7):
        await _call(database, f"hist-{n}", patient.id, minutes_ago=n)
    await _call(database, "hist-other", other.id, minutes_ago=0)
    async with database.transaction() as session:
        session.add_all(
            [
                Complaint(patient_id=patient.id, category="staff", description="open one"),
                Complaint(
                    patient_id=patient.id,
                    category="billing",
                    description="closed one",
                    status=ComplaintStatus.CLOSED,
                ),
                FollowUpTask(patient_id=patient.id, reason="later", priority=3),
                FollowUpTask(
                    patient_id=patient.id, reason="urgent", priority=1, due_date=date.today()
                ),
                FollowUpTask(
                    patient_id=patient.id, reason="done", priority=1, status=FollowUpStatus.DONE
                ),
            ]
        )
    history = ContactHistory(database)
    calls = await history.recent_calls(patient.id, exclude_linkedid="hist-0")
    assert [c.linkedid for c in calls] == ["hist-1", "hist-2", "hist-3", "hist-4", "hist-5"]
    assert [c.description for c in await history.open_complaints(patient.id)] == ["open one"]
    assert [t.reason for t in await history.open_followups(patient.id)] == ["urgent", "later"]
    assert await history.open_complaints(other.id) == []


async def test_disposition_and_notes_are_recorded_with_the_agent_and_audited(database, policy):
    patient = await make_patient(database, policy)
    await _call(database, "disp-1", patient.id, minutes_ago=1)
    agent = await _agent(database)
    records = CallRecords(database)
    with pytest.raises(ValidationFailed) as bad:
        await records.set_disposition("disp-1", "made-up", agent)
    assert bad.value.field == "disposition"
    with pytest.raises(CallNotFound):
        await records.set_disposition("no-such-call", "booked", agent)
    assert agent.user_id is not None
    on_desk = CallViewer(agent.user_id, Role.AGENT, serving_linkedids=frozenset({"disp-1"}))
    with pytest.raises(ValidationFailed):
        await records.add_note("disp-1", "   ", agent, on_desk)
    await records.add_note("disp-1", "asked about parking", agent, on_desk)
    call = await records.set_disposition("disp-1", "information", agent, note="all clear")
    assert call.disposition == "information"
    assert call.agent_user_id == agent.user_id
    lines = (call.notes or "").splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("user:alice] asked about parking")
    assert lines[1].endswith("user:alice] all clear")
    async with database.session() as session:
        audit = (await session.scalars(select(AuditEvent).where(AuditEvent.entity == "call"))).all()
    assert [a.detail.get("disposition") for a in audit] == [None, "information"]
    assert {a.patient_id for a in audit} == {patient.id}


async def test_complaints_are_validated_and_tied_to_the_call(database, policy):
    patient = await make_patient(database, policy)
    await _call(database, "compl-1", patient.id, minutes_ago=1)
    for kwargs, field in (
        ({"category": "nonsense", "description": "x"}, "category"),
        ({"category": "staff", "description": "  "}, "description"),
        ({"category": "staff", "description": "x" * 5000}, "description"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            await file_complaint(database, Actor.system(), patient_id=patient.id, **kwargs)
        assert bad.value.field == field
    with pytest.raises(PatientNotFound):
        await file_complaint(
            database, Actor.system(), patient_id=999_999, category="staff", description="x"
        )
    complaint = await file_complaint(
        database,
        Actor.system(),
        patient_id=patient.id,
        category="waiting_time",
        description="waited an hour",
        linkedid="compl-1",
    )
    async with database.session() as session:
        stored = await session.get(Complaint, complaint.id)
        call_id = await session.scalar(select(Call.id).where(Call.linkedid == "compl-1"))
    assert stored is not None and stored.call_id == call_id
    assert stored.status is ComplaintStatus.RECEIVED


async def test_patient_edits_change_what_was_given_and_find_the_new_phone(database, policy):
    patient = await make_patient(database, policy, phones=("(212) 555-0101",))
    agent = await _agent(database)
    today = date.today()
    changes = PatientChanges(
        family_name="Renamed",
        sex=Sex.MALE,
        preferred_language="zh",
        primary_phone="212 555 0102",
        do_not_call=True,
    )
    changed = await update_patient(
        database, patient.id, changes, agent, phone_region="US", today=today
    )
    assert set(changed) == {
        "family_name",
        "sex",
        "preferred_language",
        "primary_phone",
        "do_not_call",
    }
    service = PatientService(database, policy)
    found = await service.find_by_phone("+1 212-555-0102")
    assert [p.id for p in found] == [patient.id]
    assert [p.id for p in await service.search("renamed")] == [patient.id]
    async with database.session() as session:
        phones = (
            await session.scalars(select(PatientPhone).where(PatientPhone.patient_id == patient.id))
        ).all()
    assert {(p.e164, p.is_primary) for p in phones} == {
        ("+12125550101", False),
        ("+12125550102", True),
    }
    # Nothing new: nothing changed, nothing audited.
    again = await update_patient(
        database,
        patient.id,
        PatientChanges(family_name="Renamed", primary_phone=None),
        agent,
        phone_region="US",
        today=today,
    )
    assert again == []
    for bad_changes, field in (
        (PatientChanges(email="not-mail"), "email"),
        (PatientChanges(date_of_birth=today + timedelta(days=1)), "date_of_birth"),
        (PatientChanges(preferred_language="english"), "preferred_language"),
        (PatientChanges(primary_phone="12"), "primary_phone"),
        (PatientChanges(given_name="", family_name=""), "given_name"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            await update_patient(
                database, patient.id, bad_changes, agent, phone_region="US", today=today
            )
        assert bad.value.field == field
    with pytest.raises(PatientNotFound):
        await update_patient(
            database, 999_999, PatientChanges(notes="x"), agent, phone_region="US", today=today
        )


async def test_card_history_in_one_read_matches_the_separate_reads(database, policy):
    hospital = await make_hospital(database, policy)
    patient = await make_patient(database, policy)
    for n in range(3):
        await _call(database, f"card-{n}", patient.id, minutes_ago=n)
    async with database.transaction() as session:
        session.add(Complaint(patient_id=patient.id, category="staff", description="rude"))
        session.add(FollowUpTask(patient_id=patient.id, reason="call back", priority=2))
    # One booking per department is the rule: a late one in cardiology, an early one in skin.
    later = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=12))[-1]
    sooner = (await hospital.free_slots(department_id=hospital.dermatology.id, limit=1))[0]
    booking = AppointmentService(database, policy)
    for slot in (later, sooner):  # booked out of order: the card lists them by time
        await booking.book(
            BookingRequest(
                patient_id=patient.id,
                slot_id=slot.slot_id,
                channel=Channel.AGENT,
                actor=Actor.system(),
            )
        )
    history = ContactHistory(database)
    card = await history.for_card(patient.id, exclude_linkedid="card-0")
    assert [a.starts_at for a in card.appointments] == sorted(s.starts_at for s in (later, sooner))
    # Doctor and department came with the rows (read after the session closed).
    assert [a.department.name for a in card.appointments] == ["Dermatology", "Cardiology"]
    assert all(a.doctor.family_name for a in card.appointments)
    assert [c.linkedid for c in card.calls] == ["card-1", "card-2"]
    assert [c.description for c in card.complaints] == ["rude"]
    assert [t.reason for t in card.followups] == ["call back"]
    separate = await history.recent_calls(patient.id, exclude_linkedid="card-0")
    assert [c.id for c in card.calls] == [c.id for c in separate]
    empty = await history.for_card((await make_patient(database, policy)).id)
    assert (empty.appointments, empty.calls, empty.complaints, empty.followups) == ([], [], [], [])
