"""Finding, reading and reviewing call recordings, with the access rule applied once here.

Supervisors and admins see every recording; agents see only recordings of their own calls,
or none when the site says so (``agent_access``). A recording that is not the viewer's is
answered exactly like one that does not exist (404), so ids cannot be probed; the refused
attempt is audited. Every read that shows a recording's content (play, download, transcript)
is audited by the caller of these functions; every list or search is audited here (the
number of results and a keyed hash of the search words, never the words).
Transcripts may be stored encrypted: the caller passes the function that opens them. Lists
and searches are in :mod:`hcrm_core.services.recording_search`.
Legal holds are set and lifted by administrators only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, or_, select

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import DomainError, NotFound
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
from hcrm_core.services.audit import add_audit, record_audit

Decrypt = Callable[[str], str]


class RecordingNotVisible(NotFound):
    """Not found, or not yours: the two are not told apart (no probing for ids)."""

    code = "recording_not_found"


class LegalHoldAdminOnly(DomainError):
    code = "legal_hold_admin_only"
    http_status = 403


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    role: Role
    agent_access: str = "own"  # own | none

    @property
    def sees_all(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)


def may_see(viewer: Viewer, recording: Recording) -> bool:
    if viewer.sees_all:
        return True
    return viewer.agent_access == "own" and recording.agent_user_id == viewer.user_id


async def _refuse(database: Database, actor: Actor | None, recording: Recording) -> None:
    """Audit an attempt to open someone else's recording, then answer as if it did not exist."""
    if actor is not None:
        await record_audit(
            database,
            actor,
            AuditAction.VIEW,
            "recording",
            recording.id,
            patient_id=recording.patient_id,
            detail={"denied": "not_visible"},
        )
    raise RecordingNotVisible("no such recording")


def visible_to(viewer: Viewer, query: Select[Any]) -> Select[Any]:
    if viewer.sees_all:
        return query
    if viewer.agent_access != "own":
        return query.where(Recording.id < 0)
    return query.where(Recording.agent_user_id == viewer.user_id)


def summary(
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


async def get_recording(
    database: Database, viewer: Viewer, recording_id: int, actor: Actor | None = None
) -> Recording:
    """The recording if it exists and the viewer may see it; RecordingNotVisible (404) for
    both the missing and the refused, the refused audited for ``actor``."""
    async with database.session() as session:
        recording = await session.get(Recording, recording_id)
    if recording is None:
        raise RecordingNotVisible("no such recording")
    if not may_see(viewer, recording):
        await _refuse(database, actor, recording)
    return recording


async def recording_detail(
    database: Database, viewer: Viewer, recording_id: int, decrypt: Decrypt | None, actor: Actor
) -> dict[str, Any]:
    """Summary, transcripts (opened), pauses and reviews; audits the transcript view (and a
    refused attempt, answered as not found)."""
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
        visible = row is not None and may_see(viewer, row[0])
        if row is not None and visible:
            transcripts = list(
                await session.scalars(
                    select(Transcript).where(Transcript.recording_id == recording_id)
                )
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
    if row is None:
        raise RecordingNotVisible("no such recording")
    if not visible:
        await _refuse(database, actor, row[0])
    detail = summary(*row)
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


async def set_legal_hold(
    database: Database, actor: Actor, viewer: Viewer, recording_id: int, hold: bool
) -> None:
    """Set or lift a legal hold (admins only: a hold overrides retention); audited, and so is
    a refused attempt."""
    async with database.transaction() as session:
        recording = await session.get(Recording, recording_id)
        if recording is None:
            raise RecordingNotVisible("no such recording")
        allowed = viewer.role is Role.ADMIN
        add_audit(
            session,
            actor,
            AuditAction.UPDATE,
            "recording_legal_hold",
            recording_id,
            patient_id=recording.patient_id,
            detail={"legal_hold": hold, "was": recording.legal_hold}
            | ({} if allowed else {"denied": "admin_only"}),
        )
        if allowed:
            recording.legal_hold = hold
    if not allowed:
        raise LegalHoldAdminOnly(
            "only an administrator may set or lift a legal hold; ask an administrator"
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
