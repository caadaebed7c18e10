"""A patient's rights over their data: everything held about them as one bundle, and erasure.

:func:`export_patient` gathers the record, appointments, calls (with their raw events),
recordings' metadata, transcripts, survey answers, complaints, follow-ups, after-hours
requests and the audit trail of who looked, and audits the export. Transcripts may be stored
encrypted: the caller passes the function that opens them (the key is telephony's; hcrm_core
never sees it).

:func:`erase_patient` anonymises: rows that other records point to (the patient, calls,
appointments, recordings) stay with every personal field blanked, rows that are only personal
(phones, allergies, conditions, raw call events, transcripts, survey answers) are deleted,
and the audio goes through the caller's ``remove_audio`` (after-hours voicemails through
``remove_voicemails``). A legal hold on any of the
patient's recordings refuses the whole erasure. The audit log is append-only and is kept: the
erasure's own row holds ids and counts, never the erased data.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import Conflict, PatientNotFound
from hcrm_core.models import (
    AfterHoursRequest,
    Appointment,
    AppointmentStatus,
    AttemptStatus,
    AuditAction,
    AuditEvent,
    Call,
    CallEvent,
    CampaignAttempt,
    Complaint,
    ComplaintContact,
    FollowUpStatus,
    FollowUpTask,
    Patient,
    PatientTag,
    PatientTagLink,
    Recording,
    RecordingJob,
    RecordingReview,
    RecordingStatus,
    Sex,
    SurveyAnswer,
    Transcript,
    TranscriptTerm,
)
from hcrm_core.services.audit import add_audit, record_audit
from hcrm_core.services.case_history import record_task_statuses

Decrypt = Callable[[str], str]
RemoveAudio = Callable[[Sequence[Recording]], Awaitable[None]]
# Deletes the after-hours voicemails stored at these paths (AfterHoursRequest.recording_path).
RemoveFiles = Callable[[Sequence[str]], Awaitable[None]]

EXPORT_FORMAT = "hcrm-patient-export/1"
ERASED = "[erased]"
# A date of birth is required by the schema; an erased record keeps this placeholder.
ERASED_BIRTH_DATE = date(1900, 1, 1)
# Recordings keep these (the call's shape); everything else about them is in the export too.
_RECORDING_SKIP = {"peaks"}
_OPEN_ATTEMPTS = (AttemptStatus.SCHEDULED,)


class ErasureRefused(Conflict):
    """A legal hold covers one of the patient's recordings: nothing was erased."""

    code = "legal_hold"

    def __init__(self, message: str, recording_ids: list[int]) -> None:
        super().__init__(message)
        self.recording_ids = recording_ids


@dataclass(slots=True)
class Erasure:
    """What an erasure changed (the counts its audit row holds)."""

    patient_id: int
    counts: dict[str, int] = field(default_factory=dict)


# -- export -----------------------------------------------------------------------------------


async def export_patient(
    database: Database, actor: Actor, patient_id: int, *, decrypt: Decrypt | None
) -> dict[str, Any]:
    """Everything held about the patient, JSON-ready; the export itself is audited.

    Transcripts are opened with ``decrypt`` when encrypted; without it they come out
    ``"sealed": true`` with no text. Raises PatientNotFound."""
    async with database.session() as session:
        patient = await _patient(session, patient_id)
        calls = list(await session.scalars(_calls_of(patient_id).order_by(Call.started_at)))
        linkedids = [call.linkedid for call in calls]
        recordings = list(
            await session.scalars(_recordings_of(patient_id).order_by(Recording.started_at))
        )
        transcripts = list(
            await session.scalars(
                select(Transcript)
                .where(Transcript.recording_id.in_([r.id for r in recordings]))
                .order_by(Transcript.recording_id, Transcript.id)
            )
        )
        events = (
            list(
                await session.scalars(
                    select(CallEvent)
                    .where(CallEvent.linkedid.in_(linkedids))
                    .order_by(CallEvent.linkedid, CallEvent.seq)
                )
            )
            if linkedids
            else []
        )
        bundle: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "exported_at": _json_value(datetime.now(UTC)),
            "patient": {
                **_row(patient),
                "phones": [_row(p) for p in patient.phones],
                "allergies": [_row(a) for a in patient.allergies],
                "conditions": [_row(c) for c in patient.conditions],
                "tags": list(
                    await session.scalars(
                        select(PatientTag.name)
                        .join(PatientTagLink, PatientTagLink.tag_id == PatientTag.id)
                        .where(PatientTagLink.patient_id == patient_id)
                        .order_by(PatientTag.name)
                    )
                ),
            },
            "appointments": await _rows(session, Appointment, Appointment.booked_at, patient_id),
            "calls": [_row(call) for call in calls],
            "call_events": [_row(event) for event in events],
            "recordings": [_row(r, skip=_RECORDING_SKIP) for r in recordings],
            "transcripts": [_opened(t, decrypt) for t in transcripts],
            "campaign_attempts": await _rows(
                session, CampaignAttempt, CampaignAttempt.scheduled_for, patient_id
            ),
            "survey_answers": await _rows(
                session, SurveyAnswer, SurveyAnswer.answered_at, patient_id
            ),
            "complaints": await _rows(session, Complaint, Complaint.created_at, patient_id),
            "follow_ups": await _rows(session, FollowUpTask, FollowUpTask.created_at, patient_id),
            "after_hours_requests": await _rows(
                session, AfterHoursRequest, AfterHoursRequest.created_at, patient_id
            ),
            "audit": await _rows(session, AuditEvent, AuditEvent.at, patient_id),
        }
    counts = {name: len(value) for name, value in bundle.items() if isinstance(value, list)}
    await record_audit(
        database,
        actor,
        AuditAction.EXPORT,
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"counts": counts, "sealed_transcripts": decrypt is None and bool(transcripts)},
    )
    return bundle


def export_json(bundle: dict[str, Any]) -> str:
    """The bundle as the JSON text handed to the patient."""
    return json.dumps(bundle, ensure_ascii=False, indent=1, sort_keys=True)


async def _patient(session: AsyncSession, patient_id: int) -> Patient:
    patient = await session.scalar(
        select(Patient)
        .where(Patient.id == patient_id)
        .options(
            selectinload(Patient.phones),
            selectinload(Patient.allergies),
            selectinload(Patient.conditions),
        )
    )
    if patient is None:
        raise PatientNotFound(f"no patient with id {patient_id}")
    return patient


def _calls_of(patient_id: int) -> Any:
    return select(Call).where(Call.patient_id == patient_id)


def _recordings_of(patient_id: int) -> Any:
    # A recording names the patient, or belongs to one of their calls (identified later).
    their_calls = select(Call.id).where(Call.patient_id == patient_id)
    return select(Recording).where(
        or_(Recording.patient_id == patient_id, Recording.call_id.in_(their_calls))
    )


async def _rows(
    session: AsyncSession, model: Any, order: Any, patient_id: int
) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(model).where(model.patient_id == patient_id).order_by(order, model.id)
    )
    return [_row(row) for row in rows]


def _row(row: Any, skip: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    return {
        column.key: _json_value(getattr(row, column.key))
        for column in row.__mapper__.column_attrs
        if column.key not in skip
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _opened(transcript: Transcript, decrypt: Decrypt | None) -> dict[str, Any]:
    text, words, sealed = transcript.text, transcript.words, False
    if transcript.encrypted:
        if decrypt is None:
            text, words, sealed = "", [], True
        else:
            text = decrypt(text)
            words = json.loads(decrypt(words[0]["enc"])) if words else []
    return {
        "id": transcript.id,
        "recording_id": transcript.recording_id,
        "speaker": transcript.speaker,
        "created_at": _json_value(transcript.created_at),
        "text": text,
        "words": words,
        "sealed": sealed,
    }


# -- erasure ----------------------------------------------------------------------------------


async def erase_patient(
    database: Database,
    actor: Actor,
    patient_id: int,
    *,
    remove_audio: RemoveAudio | None = None,
    remove_voicemails: RemoveFiles | None = None,
) -> Erasure:
    """Anonymise the patient and delete what is only personal, in one transaction.

    Raises ErasureRefused (nothing changed; the refusal is audited) while a legal hold
    covers any of their recordings, PatientNotFound for an unknown id. ``remove_audio`` is
    given the recordings whose files must go, inside the transaction: if it fails, nothing
    in the database changes. ``remove_voicemails`` likewise deletes their after-hours
    voicemails (the requests stay, without number or recording)."""
    try:
        async with database.transaction() as session:
            return await _erase(session, actor, patient_id, remove_audio, remove_voicemails)
    except ErasureRefused as refused:
        await record_audit(
            database,
            actor,
            AuditAction.DELETE,
            "patient",
            patient_id,
            patient_id=patient_id,
            detail={"erasure": "refused", "legal_hold_recordings": refused.recording_ids},
        )
        raise


async def _erase(
    session: AsyncSession,
    actor: Actor,
    patient_id: int,
    remove_audio: RemoveAudio | None,
    remove_voicemails: RemoveFiles | None,
) -> Erasure:
    patient = await _patient(session, patient_id)
    recordings = list(await session.scalars(_recordings_of(patient_id).with_for_update()))
    held = sorted(r.id for r in recordings if r.legal_hold)
    if held:
        raise ErasureRefused(
            f"a legal hold covers recordings {held} of this patient: nothing was erased",
            held,
        )
    erasure = Erasure(patient_id)
    counts = erasure.counts
    if remove_audio is not None and recordings:
        await remove_audio(recordings)
    counts.update(await _erase_recordings(session, recordings))
    counts["after_hours_requests"] = await _erase_after_hours(
        session, patient_id, remove_voicemails
    )
    counts.update(await _erase_calls(session, patient_id))
    counts.update(await _erase_outreach(session, patient_id))
    counts["appointments_cancelled"] = await _cancel_future_appointments(session, patient_id)
    await session.execute(
        update(Appointment).where(Appointment.patient_id == patient_id).values(reason=None)
    )
    # Tags may say as much as a diagnosis ("hiv-clinic"): they go with the record.
    tags = await session.execute(
        delete(PatientTagLink).where(PatientTagLink.patient_id == patient_id)
    )
    counts["tags"] = int(tags.rowcount)  # type: ignore[attr-defined]
    _anonymise(patient)
    add_audit(
        session,
        actor,
        AuditAction.DELETE,
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"erasure": "done", "counts": dict(counts)},
    )
    return erasure


def _anonymise(patient: Patient) -> None:
    patient.mrn = f"ERASED-{patient.id}"
    patient.given_name = ""
    patient.family_name = ERASED
    patient.search_name = ""
    patient.sex = Sex.UNKNOWN
    patient.date_of_birth = ERASED_BIRTH_DATE
    patient.email = None
    patient.address = None
    patient.notes = None
    patient.vip = False
    patient.consent_call = patient.consent_sms = patient.consent_email = False
    patient.do_not_call = True
    patient.discharged_at = None
    patient.active = False
    patient.phones.clear()
    patient.allergies.clear()
    patient.conditions.clear()


async def _erase_recordings(
    session: AsyncSession, recordings: Sequence[Recording]
) -> dict[str, int]:
    ids = [r.id for r in recordings]
    if not ids:
        return {"recordings": 0, "transcripts": 0}
    now = datetime.now(UTC)
    # The transcripts' blind-index terms first: they point at the transcripts.
    await session.execute(delete(TranscriptTerm).where(TranscriptTerm.recording_id.in_(ids)))
    transcripts = await session.execute(delete(Transcript).where(Transcript.recording_id.in_(ids)))
    await session.execute(delete(RecordingJob).where(RecordingJob.recording_id.in_(ids)))
    await session.execute(
        update(RecordingReview).where(RecordingReview.recording_id.in_(ids)).values(notes=None)
    )
    for recording in recordings:
        recording.status = RecordingStatus.DELETED
        recording.audio_path = None
        recording.local_path = None
        recording.audio_deleted_at = recording.audio_deleted_at or now
        recording.peaks = []
        recording.error = None
    return {"recordings": len(ids), "transcripts": _count(transcripts)}


async def _erase_after_hours(
    session: AsyncSession, patient_id: int, remove_voicemails: RemoveFiles | None
) -> int:
    requests = list(
        await session.scalars(
            select(AfterHoursRequest)
            .where(AfterHoursRequest.patient_id == patient_id)
            .with_for_update()
        )
    )
    voicemails = [r.recording_path for r in requests if r.recording_path]
    if remove_voicemails is not None and voicemails:
        await remove_voicemails(voicemails)
    for request in requests:
        request.caller_number = ""
        request.recording_path = None
    return len(requests)


async def _erase_calls(session: AsyncSession, patient_id: int) -> dict[str, int]:
    calls = list(await session.scalars(_calls_of(patient_id)))
    linkedids = [call.linkedid for call in calls]
    events = 0
    if linkedids:
        # Raw AMI headers carry the caller's number and name.
        events = _count(
            await session.execute(delete(CallEvent).where(CallEvent.linkedid.in_(linkedids)))
        )
    for call in calls:
        call.caller_number = None
        call.caller_name = None
        call.dialled_number = None
        call.notes = None
        call.ivr_context = {}
    return {"calls": len(calls), "call_events": events}


async def _erase_outreach(session: AsyncSession, patient_id: int) -> dict[str, int]:
    answers = await session.execute(
        delete(SurveyAnswer).where(SurveyAnswer.patient_id == patient_id)
    )
    await session.execute(
        update(CampaignAttempt)
        .where(CampaignAttempt.patient_id == patient_id, CampaignAttempt.status.in_(_OPEN_ATTEMPTS))
        .values(status=AttemptStatus.CANCELLED, outcome_detail="patient erased")
    )
    attempts = await session.execute(
        update(CampaignAttempt)
        .where(CampaignAttempt.patient_id == patient_id)
        .values(phone_e164="")
    )
    complaints = await session.execute(
        update(Complaint)
        .where(Complaint.patient_id == patient_id)
        .values(description=ERASED, resolution=None)
    )
    await session.execute(
        update(ComplaintContact)
        .where(
            ComplaintContact.complaint_id.in_(
                select(Complaint.id).where(Complaint.patient_id == patient_id)
            )
        )
        .values(summary=ERASED)
    )
    follow_ups = await session.execute(
        update(FollowUpTask)
        .where(FollowUpTask.patient_id == patient_id)
        .values(reason=ERASED, notes=None, outcome=None)
    )
    still_open = (
        FollowUpTask.patient_id == patient_id,
        FollowUpTask.status.in_((FollowUpStatus.OPEN, FollowUpStatus.IN_PROGRESS)),
    )
    cancelled = (
        await session.execute(
            select(
                FollowUpTask.id,
                func.coalesce(FollowUpTask.owner_user_id, FollowUpTask.claimed_by_user_id),
            ).where(*still_open)
        )
    ).all()
    now = datetime.now(UTC)
    await session.execute(
        update(FollowUpTask)
        .where(*still_open)
        .values(status=FollowUpStatus.CANCELLED, closed_at=now)
    )
    record_task_statuses(
        session, [(t, owner) for t, owner in cancelled], FollowUpStatus.CANCELLED, now, "erasure"
    )
    return {
        "survey_answers": _count(answers),
        "campaign_attempts": _count(attempts),
        "complaints": _count(complaints),
        "follow_ups": _count(follow_ups),
    }


async def _cancel_future_appointments(session: AsyncSession, patient_id: int) -> int:
    now = datetime.now(UTC)
    result = await session.execute(
        update(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > now,
        )
        .values(
            status=AppointmentStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason="patient erased",
        )
    )
    return _count(result)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
