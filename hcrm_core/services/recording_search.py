"""Searching call recordings: filters, transcript text through the blind index, and the audit
of every list or search.

Only what the viewer may see is searched (:func:`~hcrm_core.services.recordings.visible_to`).
A text search matches whole words in order. Plain transcripts are found by SQL; encrypted ones
through :class:`TextIndex` (keyed tokens of their words, never the words) and then decrypted,
only these candidates and in a worker thread, to confirm the phrase and cut a snippet. Every
list or search writes one audit row with the number of results and a keyed hash of the words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, and_, func, select

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import (
    AuditAction,
    Call,
    Patient,
    Recording,
    Transcript,
    TranscriptTerm,
    User,
)
from hcrm_core.services.audit import record_audit
from hcrm_core.services.recordings import Decrypt, Viewer, summary, visible_to
from hcrm_core.text_words import normalise, normalised_words

MAX_RESULTS = 200
# Encrypted transcripts holding every word searched for are decrypted (in a thread) to
# confirm the phrase and cut a snippet: at most this many, newest first.
_TEXT_SCAN_LIMIT = 2000
_SNIPPET_WORDS = 6


class TextIndex(Protocol):
    """The blind index of transcript words (keyed tokens; see callcenter's blind_index)."""

    def tokens(self, text: str) -> list[str]: ...

    def digest(self, text: str) -> str: ...


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
    database: Database,
    viewer: Viewer,
    f: RecordingFilter,
    decrypt: Decrypt | None,
    *,
    index: TextIndex | None = None,
    actor: Actor | None = None,
) -> list[dict[str, Any]]:
    """Recordings matching the filter that the viewer may see, newest first; audited when an
    ``actor`` is given. A text search matches whole words, in order (``snippet`` shows where);
    encrypted transcripts are found through ``index`` and confirmed with ``decrypt``."""
    if not 1 <= f.limit <= MAX_RESULTS:
        raise ValidationFailed("limit", f"must be between 1 and {MAX_RESULTS}")
    needle = _needle(f.text) if f.text else None
    query: Select[Any] = (
        select(Recording, Call, User.username, Patient.given_name, Patient.family_name)  # type: ignore[assignment]
        .join(Call, Call.id == Recording.call_id)
        .outerjoin(User, User.id == Recording.agent_user_id)
        .outerjoin(Patient, Patient.id == Recording.patient_id)
        .order_by(Recording.started_at.desc(), Recording.id.desc())
    )
    query = _filtered(visible_to(viewer, query), f)
    async with database.session() as session:
        if needle is None:
            rows: Sequence[Any] = (await session.execute(query.limit(f.limit))).all()
            results = [summary(*row) for row in rows]
        else:
            candidates = await _text_candidates(session, needle, decrypt, index)
            ids = list(candidates) or [-1]
            rows = (await session.execute(query.where(Recording.id.in_(ids)))).all()
    if needle is not None:
        # Decryption is CPU work: in a thread, never on the event loop.
        results = await asyncio.to_thread(_confirmed, rows, candidates, needle, decrypt, f.limit)
    if actor is not None:
        await _audit_list(database, actor, f, needle, index, len(results))
    return results


def _needle(text: str) -> str:
    needle = text.strip().lower()
    if len(needle) > 100:
        raise ValidationFailed("q", "at most 100 characters")
    return needle


# A transcript found by a text search: (encrypted, text as stored).
_Found = dict[int, list[tuple[bool, str]]]


async def _text_candidates(
    session: Any, needle: str, decrypt: Decrypt | None, index: TextIndex | None
) -> _Found:
    """Transcripts that may hold ``needle``, by recording: plain ones by SQL, encrypted ones
    holding every token of its words (the blind index); nothing decrypted yet."""
    found: _Found = {}
    plain = await session.execute(
        select(Transcript.recording_id, Transcript.text).where(
            Transcript.encrypted.is_(False), func.lower(Transcript.text).contains(needle)
        )
    )
    for recording_id, text in plain:
        found.setdefault(recording_id, []).append((False, text))
    tokens = index.tokens(needle) if index is not None and decrypt is not None else []
    if not tokens:
        return found
    holding_all = (
        select(TranscriptTerm.transcript_id)
        .where(TranscriptTerm.token.in_(tokens))
        .group_by(TranscriptTerm.transcript_id)
        .having(func.count(func.distinct(TranscriptTerm.token)) == len(tokens))
    )
    sealed = await session.execute(
        select(Transcript.recording_id, Transcript.text)
        .where(Transcript.encrypted.is_(True), Transcript.id.in_(holding_all))
        .order_by(Transcript.id.desc())
        .limit(_TEXT_SCAN_LIMIT)
    )
    for recording_id, token in sealed:
        found.setdefault(recording_id, []).append((True, token))
    return found


def _confirmed(
    rows: Sequence[Any], candidates: _Found, needle: str, decrypt: Decrypt | None, limit: int
) -> list[dict[str, Any]]:
    """The rows whose transcript really holds ``needle`` (decrypting only these candidates),
    each with a snippet; stops at ``limit``."""
    results = []
    for row in rows:
        for encrypted, stored in candidates.get(row[0].id, []):
            if encrypted and decrypt is None:
                continue
            text = decrypt(stored) if encrypted and decrypt is not None else stored
            snippet = _snippet(text, needle)
            if snippet is not None:
                results.append(summary(*row) | {"snippet": snippet})
                break
        if len(results) >= limit:
            break
    return results


def _snippet(text: str, needle: str) -> str | None:
    """A few words either side of the first match of ``needle``'s words, or None."""
    wanted = normalised_words(needle)
    words = text.split()
    folded = [normalise(word) for word in words]
    for start in range(len(words) - len(wanted) + 1):
        if wanted and folded[start : start + len(wanted)] == wanted:
            low = max(0, start - _SNIPPET_WORDS)
            high = start + len(wanted) + _SNIPPET_WORDS
            return " ".join(words[low:high])
    # Plain transcripts match by substring (as before the index): show their beginning.
    if needle in text.lower():
        return " ".join(words[: 2 * _SNIPPET_WORDS])
    return None


async def _audit_list(
    database: Database,
    actor: Actor,
    f: RecordingFilter,
    needle: str | None,
    index: TextIndex | None,
    count: int,
) -> None:
    """One row per list or search. The search words may name a patient: only a keyed hash of
    them is kept (equal searches compare equal; nobody reads them back without the key)."""
    used = [
        name
        for name, value in (
            ("from", f.date_from),
            ("to", f.date_to),
            ("agent", f.agent_user_id),
            ("queue", f.queue),
            ("campaign", f.campaign_id),
            ("patient", f.patient_id),
            ("disposition", f.disposition),
            ("min", f.min_seconds),
            ("max", f.max_seconds),
            ("q", needle),
        )
        if value is not None
    ]
    detail: dict[str, Any] = {"results": count, "filters": used}
    if needle is not None:
        detail["q_hmac"] = index.digest(needle) if index is not None else None
    await record_audit(
        database,
        actor,
        AuditAction.VIEW,
        "recording_list",
        patient_id=f.patient_id,
        detail=detail,
    )
