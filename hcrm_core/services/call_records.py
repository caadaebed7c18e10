"""What agents add to a call's record: its disposition and notes (the tracker owns the rest)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import NotFound, ValidationFailed
from hcrm_core.models import AuditAction, Call
from hcrm_core.services.audit import add_audit

# What a call was about, as agents record it at the end (kept short: reports group by it).
DISPOSITIONS = (
    "booked",
    "rescheduled",
    "cancelled",
    "information",
    "complaint",
    "callback",
    "wrong_number",
    "no_action",
    "other",
)
MAX_NOTE = 2000


class CallNotFound(NotFound):
    code = "call_not_found"


class CallRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, linkedid: str) -> Call:
        async with self._db.session() as session:
            call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
            if call is None:
                raise CallNotFound(f"no call with id {linkedid!r}")
            return call

    async def set_disposition(
        self, linkedid: str, disposition: str, actor: Actor, *, note: str | None = None
    ) -> Call:
        """Record what the call was about (and by whom); a note given here is appended."""
        if disposition not in DISPOSITIONS:
            raise ValidationFailed("disposition", f"choose one of: {', '.join(DISPOSITIONS)}")
        async with self._db.transaction() as session:
            call = await self._locked(session, linkedid)
            values: dict[str, object] = {"disposition": disposition}
            if actor.user_id is not None:
                values["agent_user_id"] = actor.user_id
            if note and note.strip():
                values["notes"] = _appended(call.notes, note, actor)
            await session.execute(update(Call).where(Call.id == call.id).values(**values))
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "call",
                call.id,
                patient_id=call.patient_id,
                detail={"disposition": disposition, "linkedid": linkedid},
            )
        return await self.get(linkedid)

    async def add_note(self, linkedid: str, note: str, actor: Actor) -> Call:
        if not note.strip():
            raise ValidationFailed("note", "write something first")
        async with self._db.transaction() as session:
            call = await self._locked(session, linkedid)
            await session.execute(
                update(Call)
                .where(Call.id == call.id)
                .values(notes=_appended(call.notes, note, actor))
            )
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "call",
                call.id,
                patient_id=call.patient_id,
                detail={"note_added": True, "linkedid": linkedid},
            )
        return await self.get(linkedid)

    async def link_patient(self, linkedid: str, patient_id: int, actor: Actor) -> None:
        """The agent says who the caller is (caller ID matched several, or none)."""
        async with self._db.transaction() as session:
            call = await self._locked(session, linkedid)
            await session.execute(
                update(Call).where(Call.id == call.id).values(patient_id=patient_id)
            )
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "call",
                call.id,
                patient_id=patient_id,
                detail={"patient_linked": patient_id, "linkedid": linkedid},
            )

    async def _locked(self, session: AsyncSession, linkedid: str) -> Call:
        call = await session.scalar(select(Call).where(Call.linkedid == linkedid).with_for_update())
        if call is None:
            raise CallNotFound(f"no call with id {linkedid!r}")
        return call


def _appended(existing: str | None, note: str, actor: Actor) -> str:
    text = note.strip()
    if len(text) > MAX_NOTE:
        raise ValidationFailed("note", f"at most {MAX_NOTE} characters")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    line = f"[{stamp} {actor.label}] {text}"
    return f"{existing}\n{line}" if existing else line
