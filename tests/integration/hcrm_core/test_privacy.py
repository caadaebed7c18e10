"""A patient's export and erasure, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import PatientNotFound
from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AuditAction,
    AuditEvent,
    Call,
    CallEvent,
    Complaint,
    Patient,
    PatientPhone,
    Recording,
    SurveyAnswer,
    Transcript,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.privacy import ErasureRefused, erase_patient, export_patient
from tests.support.factories import make_hospital
from tests.support.privacy import E164, SPOKEN, History, hold, make_history, unseal

ADMIN = Actor.user(7, "ada", source="10.0.0.9")


@pytest.fixture
async def history(database: Database, policy: BookingPolicy) -> History:
    hospital = await make_hospital(database, policy, days=7)
    return await make_history(database, policy, hospital.cardiology.id)


async def _audit(database: Database, patient_id: int) -> list[AuditEvent]:
    async with database.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.patient_id == patient_id).order_by(AuditEvent.id)
        )
        return list(rows)


async def test_export_holds_everything_and_is_audited(database: Database, history: History):
    bundle = await export_patient(database, ADMIN, history.patient_id, decrypt=unseal)

    assert bundle["patient"]["given_name"] == "Edith"
    assert [p["e164"] for p in bundle["patient"]["phones"]] == [E164]
    assert [a["id"] for a in bundle["appointments"]] == [history.appointment_id]
    assert [c["linkedid"] for c in bundle["calls"]] == [history.linkedid]
    assert bundle["call_events"][0]["headers"]["CallerIDNum"] == E164
    assert [r["id"] for r in bundle["recordings"]] == [history.recording_id]
    assert bundle["transcripts"][0]["text"] == SPOKEN
    assert bundle["transcripts"][0]["words"] == [{"w": "april"}]
    assert bundle["survey_answers"][0]["answer"] == "5"
    assert bundle["complaints"][0]["description"] == "charged twice for the visit"
    assert {row["actor"] for row in bundle["audit"]} >= {"user:nurse"}
    json.dumps(bundle)  # JSON-ready as it is
    export_row = (await _audit(database, history.patient_id))[-1]
    assert (export_row.action, export_row.actor, export_row.source) == (
        AuditAction.EXPORT,
        "user:ada",
        "10.0.0.9",
    )
    assert export_row.detail["counts"]["transcripts"] == 1


async def test_export_without_the_key_seals_transcripts(database: Database, history: History):
    bundle = await export_patient(database, ADMIN, history.patient_id, decrypt=None)
    assert bundle["transcripts"][0]["sealed"] is True
    assert bundle["transcripts"][0]["text"] == ""


async def test_export_of_an_unknown_patient_is_not_found(database: Database):
    with pytest.raises(PatientNotFound):
        await export_patient(database, ADMIN, 999_999, decrypt=None)


async def test_a_legal_hold_refuses_the_erasure_and_changes_nothing(
    database: Database, history: History
):
    await hold(database, history.recording_id)
    removed: list[int] = []

    async def remove(recordings: Sequence[Recording]) -> None:
        removed.extend(r.id for r in recordings)

    with pytest.raises(ErasureRefused) as refused:
        await erase_patient(database, ADMIN, history.patient_id, remove_audio=remove)

    assert refused.value.recording_ids == [history.recording_id]
    assert refused.value.http_status == 409
    assert removed == []
    async with database.session() as session:
        patient = await session.get(Patient, history.patient_id)
        assert patient is not None and patient.given_name == "Edith"
        assert await session.scalar(select(func.count()).select_from(Transcript)) == 1
    last = (await _audit(database, history.patient_id))[-1]
    assert last.detail == {"erasure": "refused", "legal_hold_recordings": [history.recording_id]}


async def test_erasure_anonymises_deletes_and_keeps_a_clean_audit_row(
    database: Database, history: History
):
    audit_before = await _audit(database, history.patient_id)
    removed: list[int] = []

    async def remove(recordings: Sequence[Recording]) -> None:
        removed.extend(r.id for r in recordings)

    erasure = await erase_patient(database, ADMIN, history.patient_id, remove_audio=remove)

    assert removed == [history.recording_id]
    assert erasure.counts["transcripts"] == 1
    assert erasure.counts["appointments_cancelled"] == 1
    async with database.session() as session:
        patient = await session.get(Patient, history.patient_id)
        assert patient is not None
        assert (patient.given_name, patient.family_name, patient.email) == ("", "[erased]", None)
        assert patient.mrn == f"ERASED-{history.patient_id}"
        assert patient.do_not_call and not patient.active
        for model in (PatientPhone, Transcript, SurveyAnswer, CallEvent):
            assert await session.scalar(select(func.count()).select_from(model)) == 0, model
        call = await session.get(Call, history.call_id)
        assert call is not None and (call.caller_number, call.caller_name, call.notes) == (
            None,
            None,
            None,
        )
        recording = await session.get(Recording, history.recording_id)
        assert recording is not None and recording.audio_deleted_at is not None
        complaint = await session.scalar(select(Complaint))
        assert complaint is not None and complaint.description == "[erased]"
        appointment = await session.get(Appointment, history.appointment_id)
        assert appointment is not None and appointment.status is AppointmentStatus.CANCELLED
    audit_after = await _audit(database, history.patient_id)
    # Append-only: every earlier row is still there, plus the erasure's own.
    assert [row.id for row in audit_after[: len(audit_before)]] == [r.id for r in audit_before]
    erased = audit_after[-1]
    assert (erased.action, erased.detail["erasure"]) == (AuditAction.DELETE, "done")
    text = json.dumps(erased.detail)
    for personal in ("Edith", "Erasmus", E164, "555", "blood pressure", "april"):
        assert personal not in text
    # Nothing personal is left to export.
    bundle = await export_patient(database, ADMIN, history.patient_id, decrypt=unseal)
    dumped = json.dumps({k: v for k, v in bundle.items() if k != "audit"})
    for personal in ("Edith", "Erasmus", E164, "blood pressure", "april", "charged twice"):
        assert personal not in dumped
