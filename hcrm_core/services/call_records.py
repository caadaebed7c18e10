"""What agents add to a call's record: its disposition and notes (the tracker owns the rest)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import NotFound, ValidationFailed
from hcrm_core.models import AuditAction, Call, Role
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


class CallForbidden(NotFound):
    code = "call_forbidden"
    http_status = 403


@dataclass(frozen=True, slots=True)
class CallViewer:
    """Who asks for a call's record, and what their desk shows them right now.

    The rule, once (as :class:`hcrm_core.services.recordings.Viewer` does for recordings):
    supervisors and admins see every call; an agent sees the calls they took (the call's
    ``agent_user_id``) and those of a patient they are serving, i.e. with a screen pop open on
    their desk for that call or that patient (``serving_*``, from the desk's pops).
    """

    user_id: int
    role: Role
    serving_linkedids: frozenset[str] = frozenset()
    serving_patient_ids: frozenset[int] = frozenset()

    @property
    def sees_all(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    def serves_patient(self, patient_id: int) -> bool:
        return self.sees_all or patient_id in self.serving_patient_ids

    def may_see(self, call: Call) -> bool:
        return (
            self.sees_all
            or call.agent_user_id == self.user_id
            or call.linkedid in self.serving_linkedids
            or (call.patient_id is not None and call.patient_id in self.serving_patient_ids)
        )

    def check(self, call: Call) -> None:
        """Raise :class:`CallForbidden` unless this viewer may read (and annotate) ``call``."""
        if not self.may_see(call):
            raise CallForbidden(
                "you may only open your own calls, or calls of the patient on your desk"
            )


class CallRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, linkedid: str) -> Call:
        async with self._db.session() as session:
            call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
            if call is None:
                raise CallNotFound(f"no call with id {linkedid!r}")
            return call

    async def get_for(self, linkedid: str, viewer: CallViewer) -> Call:
        """The call, if ``viewer`` may see it (:class:`CallForbidden` otherwise)."""
        call = await self.get(linkedid)
        viewer.check(call)
        return call

    async def of_patient(self, patient_id: int, viewer: CallViewer, *, limit: int) -> list[Call]:
        """The patient's latest calls that ``viewer`` may see, newest first."""
        query = select(Call).where(Call.patient_id == patient_id)
        if not viewer.serves_patient(patient_id):
            mine = Call.agent_user_id == viewer.user_id
            on_desk = Call.linkedid.in_(sorted(viewer.serving_linkedids))
            query = query.where(or_(mine, on_desk) if viewer.serving_linkedids else mine)
        query = query.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit)
        async with self._db.session() as session:
            return list(await session.scalars(query))

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

    async def add_note(self, linkedid: str, note: str, actor: Actor, viewer: CallViewer) -> Call:
        """Append a signed, dated note; only to a call ``viewer`` may see."""
        if not note.strip():
            raise ValidationFailed("note", "write something first")
        async with self._db.transaction() as session:
            call = await self._locked(session, linkedid)
            viewer.check(call)
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
