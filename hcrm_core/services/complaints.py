"""Complaints, from the desk to closure.

A complaint is received, investigated, responded to and closed (or reopened). Its due
moments come from the severity policy in working days (:mod:`complaints_policy`); the calls
it was made on or discussed in are linked (their recordings with them), every contact with
the patient is logged, and closing needs a summary. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import (
    DepartmentNotFound,
    NotFound,
    PatientInactive,
    PatientNotFound,
    ValidationFailed,
)
from hcrm_core.models import (
    AuditAction,
    Call,
    Complaint,
    ComplaintCall,
    ComplaintContact,
    ComplaintSeverity,
    ComplaintStatus,
    Department,
    Holiday,
    Patient,
    Recording,
    User,
    utcnow,
)
from hcrm_core.services.audit import add_audit
from hcrm_core.services.case_history import record_complaint_status
from hcrm_core.services.complaints_policy import DEFAULT_POLICY, ComplaintPolicy

CATEGORIES = ("waiting_time", "staff", "billing", "appointment", "facilities", "care", "other")
CHANNELS = ("phone", "letter", "email", "in_person", "sms")
MAX_DESCRIPTION = 4000
MAX_SUMMARY = 4000
OPEN_STATUSES = (
    ComplaintStatus.RECEIVED,
    ComplaintStatus.INVESTIGATING,
    ComplaintStatus.RESPONDED,
    ComplaintStatus.REOPENED,
)
# Not yet answered: the respond-by moment still applies.
AWAITING_RESPONSE = (
    ComplaintStatus.RECEIVED,
    ComplaintStatus.INVESTIGATING,
    ComplaintStatus.REOPENED,
)
_MOVES = {
    ComplaintStatus.RECEIVED: {ComplaintStatus.INVESTIGATING, ComplaintStatus.RESPONDED},
    ComplaintStatus.INVESTIGATING: {ComplaintStatus.RESPONDED},
    ComplaintStatus.RESPONDED: {ComplaintStatus.CLOSED, ComplaintStatus.INVESTIGATING},
    ComplaintStatus.CLOSED: {ComplaintStatus.REOPENED},
    ComplaintStatus.REOPENED: {ComplaintStatus.INVESTIGATING, ComplaintStatus.RESPONDED},
}


class ComplaintNotFound(NotFound):
    code = "complaint_not_found"


def _severity(value: ComplaintSeverity | str) -> ComplaintSeverity:
    try:
        return ComplaintSeverity(value)
    except ValueError:
        names = ", ".join(s.value for s in ComplaintSeverity)
        raise ValidationFailed("severity", f"choose one of: {names}") from None


def _status(value: ComplaintStatus | str) -> ComplaintStatus:
    try:
        return ComplaintStatus(value)
    except ValueError:
        names = ", ".join(s.value for s in ComplaintStatus)
        raise ValidationFailed("status", f"choose one of: {names}") from None


def _category(value: str) -> str:
    if value not in CATEGORIES:
        raise ValidationFailed("category", f"choose one of: {', '.join(CATEGORIES)}")
    return value


async def _holidays(session: AsyncSession, start: datetime, zone: ZoneInfo) -> set[date]:
    first = start.astimezone(zone).date()
    rows = await session.scalars(
        select(Holiday.day).where(
            Holiday.queue.is_(None), Holiday.day >= first, Holiday.day <= first + timedelta(60)
        )
    )
    return set(rows)


async def _set_due(
    session: AsyncSession,
    complaint: Complaint,
    start: datetime,
    zone: ZoneInfo,
    policy: ComplaintPolicy,
) -> None:
    holidays = await _holidays(session, start, zone)
    ack, respond = policy.due(complaint.severity, start, zone, holidays)
    complaint.acknowledge_due_at = ack
    complaint.respond_due_at = respond


async def _call_id(session: AsyncSession, linkedid: str | None) -> int | None:
    if not linkedid:
        return None
    return await session.scalar(select(Call.id).where(Call.linkedid == linkedid))


async def file_complaint(
    database: Database,
    actor: Actor,
    *,
    patient_id: int,
    category: str,
    description: str,
    linkedid: str | None = None,
    severity: ComplaintSeverity | str = ComplaintSeverity.MEDIUM,
    department_id: int | None = None,
    timezone: ZoneInfo | None = None,
    policy: ComplaintPolicy = DEFAULT_POLICY,
) -> Complaint:
    """Open a complaint; ``linkedid`` ties it to the call it was made on (if logged). Its
    acknowledge-by and respond-by moments follow the severity's policy."""
    _category(category)
    level = _severity(severity)
    text = description.strip()
    if not text:
        raise ValidationFailed("description", "describe the complaint")
    if len(text) > MAX_DESCRIPTION:
        raise ValidationFailed("description", f"at most {MAX_DESCRIPTION} characters")
    zone = timezone or ZoneInfo("UTC")
    async with database.transaction() as session:
        patient = await session.get(Patient, patient_id)
        if patient is None:
            raise PatientNotFound(f"no patient with id {patient_id}")
        if not patient.active:
            raise PatientInactive(f"patient {patient_id} is no longer active (erased or merged)")
        if department_id is not None and await session.get(Department, department_id) is None:
            raise DepartmentNotFound(f"no department with id {department_id}")
        call_id = await _call_id(session, linkedid)
        now = utcnow()
        complaint = Complaint(
            patient_id=patient_id,
            call_id=call_id,
            category=category,
            description=text,
            severity=level,
            department_id=department_id,
            status=ComplaintStatus.RECEIVED,
            owner_user_id=actor.user_id,
            created_at=now,
            updated_at=now,
            reopened_count=0,
        )
        await _set_due(session, complaint, now, zone, policy)
        session.add(complaint)
        await session.flush()
        record_complaint_status(session, complaint, now, actor.label)
        if call_id is not None:
            session.add(
                ComplaintCall(
                    complaint_id=complaint.id, call_id=call_id, linked_by=actor.label[:80]
                )
            )
        add_audit(
            session,
            actor,
            AuditAction.CREATE,
            "complaint",
            complaint.id,
            patient_id=patient_id,
            detail={"category": category, "call_id": call_id, "severity": level.value},
        )
    return complaint


@dataclass(frozen=True, slots=True)
class ComplaintRow:
    complaint: Complaint
    patient_name: str
    owner_name: str | None
    department_name: str | None
    past_due: bool


@dataclass(frozen=True, slots=True)
class LinkedCall:
    call: Call
    recording_ids: list[int]


@dataclass(frozen=True, slots=True)
class ComplaintDetail:
    row: ComplaintRow
    calls: list[LinkedCall]
    contacts: list[ComplaintContact]


@dataclass(frozen=True, slots=True)
class ComplaintChanges:
    status: str | None = None
    severity: str | None = None
    category: str | None = None
    department_id: int | None = None
    clear_department: bool = False
    owner_user_id: int | None = None
    clear_owner: bool = False
    closing_summary: str | None = None


def past_due_clause(now: datetime) -> Any:
    return or_(
        and_(
            Complaint.status == ComplaintStatus.RECEIVED,
            Complaint.acknowledge_due_at < now,
        ),
        and_(Complaint.status.in_(AWAITING_RESPONSE), Complaint.respond_due_at < now),
    )


class DueState(Protocol):
    """What :func:`is_past_due` reads: a complaint, or what one was (the reports)."""

    @property
    def status(self) -> ComplaintStatus: ...
    @property
    def acknowledge_due_at(self) -> datetime | None: ...
    @property
    def respond_due_at(self) -> datetime | None: ...


def is_past_due(complaint: DueState, now: datetime) -> bool:
    ack = complaint.acknowledge_due_at
    respond = complaint.respond_due_at
    if complaint.status is ComplaintStatus.RECEIVED and ack is not None and ack < now:
        return True
    return complaint.status in AWAITING_RESPONSE and respond is not None and respond < now


class ComplaintService:
    def __init__(
        self,
        database: Database,
        timezone: ZoneInfo,
        *,
        policy: ComplaintPolicy = DEFAULT_POLICY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._tz = timezone
        self._policy = policy
        self._clock = clock

    # -- reading ---------------------------------------------------------------------------

    def _query(self) -> Select[Any]:
        owner = User.__table__.alias("owner")
        return (
            select(
                Complaint,
                Patient.given_name,
                Patient.family_name,
                owner.c.display_name,
                Department.name,
            )
            .join(Patient, Patient.id == Complaint.patient_id)
            .outerjoin(owner, owner.c.id == Complaint.owner_user_id)
            .outerjoin(Department, Department.id == Complaint.department_id)
        )

    def _row(self, raw: Any, now: datetime) -> ComplaintRow:
        complaint, given, family, owner, department = raw
        return ComplaintRow(
            complaint, f"{given} {family}".strip(), owner, department, is_past_due(complaint, now)
        )

    async def list(
        self,
        *,
        view: str = "open",
        patient_id: int | None = None,
        owner_id: int | None = None,
        limit: int = 200,
    ) -> list[ComplaintRow]:
        """``view``: open (not closed), past_due, closed or all."""
        now = self._clock()
        query = self._query()
        if view == "open":
            query = query.where(Complaint.status.in_(OPEN_STATUSES))
        elif view == "past_due":
            query = query.where(past_due_clause(now))
        elif view == "closed":
            query = query.where(Complaint.status == ComplaintStatus.CLOSED)
        elif view != "all":
            raise ValidationFailed("view", "choose one of: open, past_due, closed, all")
        if patient_id is not None:
            query = query.where(Complaint.patient_id == patient_id)
        if owner_id is not None:
            query = query.where(Complaint.owner_user_id == owner_id)
        query = query.order_by(
            Complaint.respond_due_at.is_(None), Complaint.respond_due_at, Complaint.id
        ).limit(max(1, min(limit, 500)))
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return [self._row(r, now) for r in rows]

    async def past_due_count(self) -> int:
        async with self._db.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(Complaint).where(past_due_clause(self._clock()))
            )
        return int(count or 0)

    async def get(self, complaint_id: int) -> ComplaintDetail:
        now = self._clock()
        async with self._db.session() as session:
            raw = (await session.execute(self._query().where(Complaint.id == complaint_id))).first()
            if raw is None:
                raise ComplaintNotFound(f"no complaint with id {complaint_id}")
            calls = list(
                await session.scalars(
                    select(Call)
                    .join(ComplaintCall, ComplaintCall.call_id == Call.id)
                    .where(ComplaintCall.complaint_id == complaint_id)
                    .order_by(Call.started_at)
                )
            )
            recordings: dict[int, list[int]] = {}
            if calls:
                for rec_id, call_id in await session.execute(
                    select(Recording.id, Recording.call_id)
                    .where(Recording.call_id.in_([c.id for c in calls]))
                    .order_by(Recording.id)
                ):
                    recordings.setdefault(call_id, []).append(rec_id)
            contacts = list(
                await session.scalars(
                    select(ComplaintContact)
                    .where(ComplaintContact.complaint_id == complaint_id)
                    .order_by(ComplaintContact.contacted_at, ComplaintContact.id)
                )
            )
        return ComplaintDetail(
            self._row(raw, now),
            [LinkedCall(c, recordings.get(c.id, [])) for c in calls],
            contacts,
        )

    # -- changing --------------------------------------------------------------------------

    async def update(self, complaint_id: int, actor: Actor, changes: ComplaintChanges) -> Complaint:
        """Move the status on, change severity (due moments recomputed), category,
        department or owner; closing needs a closing summary."""
        new_status = _status(changes.status) if changes.status is not None else None
        level = _severity(changes.severity) if changes.severity is not None else None
        if changes.category is not None:
            _category(changes.category)
        summary = None
        if changes.closing_summary is not None:
            summary = changes.closing_summary.strip() or None
            if summary and len(summary) > MAX_SUMMARY:
                raise ValidationFailed("closing_summary", f"at most {MAX_SUMMARY} characters")
        now = self._clock()
        async with self._db.transaction() as session:
            complaint = await session.get(Complaint, complaint_id, with_for_update=True)
            if complaint is None:
                raise ComplaintNotFound(f"no complaint with id {complaint_id}")
            detail: dict[str, Any] = {}
            if summary is not None and summary != complaint.resolution:
                complaint.resolution = summary
                detail["closing_summary"] = True
            if level is not None and level is not complaint.severity:
                detail["severity"] = [complaint.severity.value, level.value]
                complaint.severity = level
                await _set_due(session, complaint, complaint.created_at, self._tz, self._policy)
            if changes.category is not None and changes.category != complaint.category:
                detail["category"] = [complaint.category, changes.category]
                complaint.category = changes.category
            await self._reassign(session, complaint, changes, detail)
            if new_status is not None and new_status is not complaint.status:
                await self._move(session, complaint, new_status, now, detail)
            if not detail:
                return complaint
            complaint.updated_at = now
            if detail.keys() & {"status", "severity", "category"}:  # what the reports read
                record_complaint_status(session, complaint, now, actor.label)
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "complaint",
                complaint_id,
                patient_id=complaint.patient_id,
                detail=detail,
            )
        return complaint

    async def _reassign(
        self,
        session: AsyncSession,
        complaint: Complaint,
        changes: ComplaintChanges,
        detail: dict[str, Any],
    ) -> None:
        if changes.clear_department or changes.department_id is not None:
            department_id = None if changes.clear_department else changes.department_id
            if department_id is not None and await session.get(Department, department_id) is None:
                raise ValidationFailed("department_id", "no department with this id")
            if department_id != complaint.department_id:
                detail["department_id"] = [complaint.department_id, department_id]
                complaint.department_id = department_id
        if changes.clear_owner or changes.owner_user_id is not None:
            owner_id = None if changes.clear_owner else changes.owner_user_id
            if owner_id is not None:
                user = await session.get(User, owner_id)
                if user is None or not user.active:
                    raise ValidationFailed("owner_user_id", "no active user with this id")
            if owner_id != complaint.owner_user_id:
                detail["owner_user_id"] = [complaint.owner_user_id, owner_id]
                complaint.owner_user_id = owner_id

    async def _move(
        self,
        session: AsyncSession,
        complaint: Complaint,
        new: ComplaintStatus,
        now: datetime,
        detail: dict[str, Any],
    ) -> None:
        if new not in _MOVES.get(complaint.status, set()):
            raise ValidationFailed(
                "status", f"a {complaint.status.value} complaint cannot become {new.value}"
            )
        if new is ComplaintStatus.CLOSED and not complaint.resolution:
            raise ValidationFailed("closing_summary", "write a closing summary before closing")
        detail["status"] = [complaint.status.value, new.value]
        if complaint.status is ComplaintStatus.RECEIVED and complaint.acknowledged_at is None:
            complaint.acknowledged_at = now
        complaint.status = new
        if new is ComplaintStatus.RESPONDED:
            complaint.responded_at = now
        elif new is ComplaintStatus.CLOSED:
            complaint.resolved_at = now
        elif new is ComplaintStatus.REOPENED:
            # A reopened complaint is answered again within the severity's response time.
            complaint.reopened_count = (complaint.reopened_count or 0) + 1
            complaint.resolved_at = None
            complaint.responded_at = None
            rule = self._policy.deadlines[complaint.severity]
            holidays = await _holidays(session, now, self._tz)
            complaint.respond_due_at = self._policy.add_working_days(
                now, rule.respond_days, self._tz, holidays
            )

    async def add_contact(
        self,
        complaint_id: int,
        actor: Actor,
        *,
        channel: str,
        summary: str,
        linkedid: str | None = None,
    ) -> ComplaintContact:
        """Log a contact with the patient; a phone contact's call is linked too."""
        if channel not in CHANNELS:
            raise ValidationFailed("channel", f"choose one of: {', '.join(CHANNELS)}")
        text = summary.strip()
        if not text:
            raise ValidationFailed("summary", "say what was said")
        if len(text) > MAX_SUMMARY:
            raise ValidationFailed("summary", f"at most {MAX_SUMMARY} characters")
        async with self._db.transaction() as session:
            complaint = await session.get(Complaint, complaint_id)
            if complaint is None:
                raise ComplaintNotFound(f"no complaint with id {complaint_id}")
            call_id = await _call_id(session, linkedid)
            if linkedid and call_id is None:
                raise ValidationFailed("linkedid", "no logged call with this id")
            contact = ComplaintContact(
                complaint_id=complaint_id,
                channel=channel,
                summary=text,
                call_id=call_id,
                user_id=actor.user_id,
                actor=actor.label[:80],
                contacted_at=self._clock(),
            )
            session.add(contact)
            if call_id is not None:
                await self._link(session, complaint_id, call_id, actor)
            await session.flush()
            add_audit(
                session,
                actor,
                AuditAction.CREATE,
                "complaint_contact",
                contact.id,
                patient_id=complaint.patient_id,
                detail={"complaint_id": complaint_id, "channel": channel, "call_id": call_id},
            )
        return contact

    async def link_call(self, complaint_id: int, actor: Actor, *, linkedid: str) -> None:
        async with self._db.transaction() as session:
            complaint = await session.get(Complaint, complaint_id)
            if complaint is None:
                raise ComplaintNotFound(f"no complaint with id {complaint_id}")
            call_id = await _call_id(session, linkedid)
            if call_id is None:
                raise ValidationFailed("linkedid", "no logged call with this id")
            if await self._link(session, complaint_id, call_id, actor):
                add_audit(
                    session,
                    actor,
                    AuditAction.UPDATE,
                    "complaint",
                    complaint_id,
                    patient_id=complaint.patient_id,
                    detail={"linked_call": call_id},
                )

    @staticmethod
    async def _link(session: AsyncSession, complaint_id: int, call_id: int, actor: Actor) -> bool:
        exists = await session.scalar(
            select(ComplaintCall.id).where(
                ComplaintCall.complaint_id == complaint_id, ComplaintCall.call_id == call_id
            )
        )
        if exists is not None:
            return False
        session.add(
            ComplaintCall(
                complaint_id=complaint_id,
                call_id=call_id,
                linked_by=actor.label[:80],
                linked_at=datetime.now(UTC),
            )
        )
        return True
