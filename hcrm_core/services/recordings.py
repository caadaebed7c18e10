"""Finding, reading and reviewing call recordings, with the access rule applied once here.

Supervisors and admins see every recording; agents see only recordings of their own calls,
or none when the site says so (``agent_access``). Every read that shows a recording's
content (play, download, transcript) is audited by the caller of these functions.
Transcripts may be stored encrypted: the caller passes the function that opens them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import NotFound, ValidationFailed
from hcrm_core.models import (
    AuditAction,
    Call,
    Patient,
    Recording,
    RecordingReview,
    RecordingStatus,
    Role,
    Transcript,
    User,
)
from hcrm_core.services.audit import add_audit

Decrypt = Callable[[str], str]
MAX_RESULTS = 200
# Transcript text search over encrypted transcripts decrypts in Python: bounded candidates.
_TEXT_SCAN_LIMIT = 2000


class RecordingNotVisible(NotFound):
    """Not found, or not yours: the two are not told apart (no probing for ids)."""

    code = "recording_not_found"


class RecordingForbidden(NotFound):
    code = "recording_forbidden"
    http_status = 403


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    role: Role
    agent_access: str = "own"  # own | none

    @property
    def sees_all(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class RecordingFilter:
    date_from: datetime | None = None
    date_to: datetime | None = None
    agent_user_id: int | None = None
    queue: str | None = None
    campaign_id: int | None = None
    patient_id: int | None = None
    disposition: str | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None
    text: str | None = None
    limit: int = 50


def check_access(viewer: Viewer, recording: Recording) -> None:
    """Raise RecordingForbidden unless ``viewer`` may see ``recording``."""
    if viewer.sees_all:
        return
    if viewer.agent_access != "own" or recording.agent_user_id != viewer.user_id:
        raise RecordingForbidden("you may only open recordings of your own calls")


def _visible(viewer: Viewer, query: Select[Any]) -> Select[Any]:
    if viewer.sees_all:
        return query
    if viewer.agent_access != "own":
        return query.where(Recording.id < 0)
    return query.where(Recording.agent_user_id == viewer.user_id)


def _filtered(query: Select[Any], f: RecordingFilter) -> Select[Any]:
    conditions = []
    if f.date_from is not None:
        conditions.append(Recording.started_at >= f.date_from)
    if f.date_to is not None:
        conditions.append(Recording.started_at < f.date_to)
    if f.agent_user_id is not None:
        conditions.append(Recording.agent_user_id == f.agent_user_id)
    if f.queue:
        conditions.append(Recording.queue == f.queue)
    if f.campaign_id is not None:
        conditions.append(Recording.campaign_id == f.campaign_id)
    if f.patient_id is not None:
        conditions.append(Recording.patient_id == f.patient_id)
    if f.disposition:
        conditions.append(Call.disposition == f.disposition)
    if f.min_seconds is not None:
        conditions.append(Recording.duration_seconds >= f.min_seconds)
    if f.max_seconds is not None:
        conditions.append(Recording.duration_seconds <= f.max_seconds)
    return query.where(and_(*conditions)) if conditions else query


async def search_recordings(
    database: Database, viewer: Viewer, f: RecordingFilter, decrypt: Decrypt | None
) -> list[dict[str, Any]]:
    """Recordings matching the filter that the viewer may see, newest first."""
    if not 1 <= f.limit <= MAX_RESULTS:
        raise ValidationFailed("limit", f"must be between 1 and {MAX_RESULTS}")
    query: Select[Any] = (
        select(Recording, Call, User.username, Patient.given_name, Patient.family_name)  # type: ignore[assignment]
        .join(Call, Call.id == Recording.call_id)
        .outerjoin(User, User.id == Recording.agent_user_id)
        .outerjoin(Patient, Patient.id == Recording.patient_id)
        .order_by(Recording.started_at.desc(), Recording.id.desc())
    )
    query = _filtered(_visible(viewer, query), f)
    async with database.session() as session:
        if f.text:
            ids = await _text_matches(session, f.text, decrypt)
            query = query.where(Recording.id.in_(ids) if ids else Recording.id < 0)
        rows = (await session.execute(query.limit(f.limit))).all()
    return [_summary(*row) for row in rows]


async def _text_matches(session: Any, text: str, decrypt: Decrypt | None) -> list[int]:
    needle = text.strip().lower()
    if len(needle) > 100:
        raise ValidationFailed("text", "at most 100 characters")
    plain = await session.execute(
        select(Transcript.recording_id).where(
            Transcript.encrypted.is_(False), func.lower(Transcript.text).contains(needle)
        )
    )
    found = {row[0] for row in plain}
    if decrypt is not None:
        sealed = await session.execute(
            select(Transcript.recording_id, Transcript.text)
            .where(Transcript.encrypted.is_(True))
            .order_by(Transcript.id.desc())
            .limit(_TEXT_SCAN_LIMIT)
        )
        found.update(rid for rid, token in sealed if needle in decrypt(token).lower())
    return sorted(found)


def _summary(
    recording: Recording, call: Call, username: str | None, given: str | None, family: str | None
) -> dict[str, Any]:
    return {
        "id": recording.id,
        "linkedid": recording.linkedid,
        "started_at": recording.started_at.isoformat(),
        "duration_seconds": recording.duration_seconds,
        "status": recording.status.value,
        "error": recording.error,
        "queue": recording.queue,
        "campaign_id": recording.campaign_id,
        "agent": username,
        "agent_user_id": recording.agent_user_id,
        "patient_id": recording.patient_id,
        "patient": f"{given} {family}".strip() if given or family else None,
        "disposition": call.disposition,
        "legal_hold": recording.legal_hold,
        "has_audio": recording.audio_path is not None and recording.audio_deleted_at is None,
        "pauses": recording.pauses,
    }


async def get_recording(database: Database, viewer: Viewer, recording_id: int) -> Recording:
    """The recording if it exists and the viewer may see it."""
    async with database.session() as session:
        recording = await session.get(Recording, recording_id)
    if recording is None:
        raise RecordingNotVisible("no such recording")
    check_access(viewer, recording)
    return recording


async def recording_detail(
    database: Database, viewer: Viewer, recording_id: int, decrypt: Decrypt | None, actor: Actor
) -> dict[str, Any]:
    """Summary, transcripts (opened), pauses and reviews; audits the transcript view."""
    async with database.transaction() as session:
        row = (
            await session.execute(
                select(Recording, Call, User.username, Patient.given_name, Patient.family_name)
                .join(Call, Call.id == Recording.call_id)
                .outerjoin(User, User.id == Recording.agent_user_id)
                .outerjoin(Patient, Patient.id == Recording.patient_id)
                .where(Recording.id == recording_id)
            )
        ).first()
        if row is None:
            raise RecordingNotVisible("no such recording")
        check_access(viewer, row[0])
        transcripts = list(
            await session.scalars(select(Transcript).where(Transcript.recording_id == recording_id))
        )
        reviews = list(
            await session.scalars(
                select(RecordingReview).where(RecordingReview.recording_id == recording_id)
            )
        )
        add_audit(
            session,
            actor,
            AuditAction.VIEW,
            "recording_transcript",
            recording_id,
            patient_id=row[0].patient_id,
        )
    detail = _summary(*row)
    detail["peaks"] = row[0].peaks
    caller_first = sorted(transcripts, key=lambda t: t.speaker != "caller")
    detail["transcripts"] = [_opened(t, decrypt) for t in caller_first]
    detail["reviews"] = [
        {"reviewer_user_id": r.reviewer_user_id, "scores": r.scores, "notes": r.notes}
        for r in reviews
    ]
    return detail


def _opened(transcript: Transcript, decrypt: Decrypt | None) -> dict[str, Any]:
    text, words = transcript.text, transcript.words
    if transcript.encrypted:
        if decrypt is None:
            return {"speaker": transcript.speaker, "text": "", "words": [], "sealed": True}
        text = decrypt(text)
        words = json.loads(decrypt(words[0]["enc"])) if words else []
    return {"speaker": transcript.speaker, "text": text, "words": words, "sealed": False}


async def save_review(
    database: Database,
    actor: Actor,
    recording_id: int,
    scores: dict[str, int],
    notes: str | None,
) -> RecordingReview:
    """Create or update the actor's scorecard for a recording (audited)."""
    assert actor.user_id is not None
    now = datetime.now(UTC)
    async with database.transaction() as session:
        recording = await session.get(Recording, recording_id)
        if recording is None:
            raise RecordingNotVisible("no such recording")
        review = await session.scalar(
            select(RecordingReview).where(
                RecordingReview.recording_id == recording_id,
                RecordingReview.reviewer_user_id == actor.user_id,
            )
        )
        if review is None:
            review = RecordingReview(
                recording_id=recording_id, reviewer_user_id=actor.user_id, created_at=now
            )
            session.add(review)
        review.scores = scores
        review.notes = notes
        review.updated_at = now
        add_audit(
            session,
            actor,
            AuditAction.UPDATE,
            "recording_review",
            recording_id,
            patient_id=recording.patient_id,
            detail={"scores": scores},
        )
    return review


async def set_legal_hold(database: Database, actor: Actor, recording_id: int, hold: bool) -> None:
    async with database.transaction() as session:
        recording = await session.get(Recording, recording_id)
        if recording is None:
            raise RecordingNotVisible("no such recording")
        recording.legal_hold = hold
        add_audit(
            session,
            actor,
            AuditAction.UPDATE,
            "recording",
            recording_id,
            patient_id=recording.patient_id,
            detail={"legal_hold": hold},
        )


async def expired_recordings(database: Database, before: datetime) -> list[Recording]:
    """Recordings older than ``before`` that still hold audio and are not on legal hold."""
    async with database.session() as session:
        rows = await session.scalars(
            select(Recording).where(
                Recording.started_at < before,
                Recording.legal_hold.is_(False),
                Recording.audio_deleted_at.is_(None),
                or_(
                    Recording.status == RecordingStatus.PROCESSED,
                    Recording.status == RecordingStatus.FAILED,
                    Recording.status == RecordingStatus.PENDING,
                ),
            )
        )
        return list(rows)
