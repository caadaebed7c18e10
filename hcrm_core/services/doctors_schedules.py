"""A doctor's week: weekly sessions (templates) and exceptions (leave, sick days, extra sessions).

Admins keep the weekly sessions; supervisors and admins keep the exceptions. Every change is
one transaction: the change, its audit row and the slot keeper's refresh of the doctor's
slots, which returns the booked appointments the change now conflicts with. Times are entered
in the hospital's local time (the policy's zone); exceptions are stored in UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.db import Database
from hcrm_core.errors import NotFound, ValidationFailed
from hcrm_core.models import (
    AuditAction,
    ExceptionKind,
    ScheduleException,
    ScheduleTemplate,
    utcnow,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services import doctors_checks as check
from hcrm_core.services.audit import add_audit
from hcrm_core.services.doctors_admin import Changed, Editor, SlotRefresher, changes, doctor_in

# Kinds kept per doctor (a holiday is the whole hospital's: doctor_id NULL, not kept here).
DOCTOR_EXCEPTION_KINDS = (
    ExceptionKind.LEAVE,
    ExceptionKind.SICK,
    ExceptionKind.EXTRA_SESSION,
    ExceptionKind.OTHER,
)


class TemplateNotFound(NotFound):
    code = "template_not_found"


class ExceptionNotFound(NotFound):
    code = "exception_not_found"


@dataclass(frozen=True, slots=True)
class TemplateFields:
    weekday: int
    start_time: time
    end_time: time
    slot_minutes: int
    location: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True, slots=True)
class ExceptionFields:
    """Whole days from ``starts_on`` to ``ends_on`` (inclusive), or from ``start_time`` on the
    first day to ``end_time`` on the last. An extra session is one date with both times and
    a ``slot_minutes``."""

    kind: ExceptionKind
    starts_on: date
    ends_on: date | None = None
    start_time: time | None = None
    end_time: time | None = None
    slot_minutes: int | None = None
    location: str | None = None
    reason: str | None = None


class ScheduleAdmin:
    def __init__(
        self,
        database: Database,
        keeper: SlotRefresher,
        policy: BookingPolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._keeper = keeper
        self._policy = policy
        self._clock = clock

    def _now_local(self) -> datetime:
        return self._clock().astimezone(self._policy.timezone)

    # -- reading -----------------------------------------------------------------------------

    async def templates(self, doctor_id: int) -> list[ScheduleTemplate]:
        """The doctor's weekly sessions, Monday first, then by start."""
        async with self._db.session() as session:
            await doctor_in(session, doctor_id)
            return await _templates(session, doctor_id)

    async def session_counts(self) -> dict[int, int]:
        """Weekly sessions per doctor id (a doctor without any has no bookable time)."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(ScheduleTemplate.doctor_id, func.count()).group_by(
                    ScheduleTemplate.doctor_id
                )
            )
            return {doctor_id: count for doctor_id, count in rows.all()}

    async def exceptions(self, doctor_id: int) -> list[ScheduleException]:
        """The doctor's exceptions not yet over, soonest first."""
        async with self._db.session() as session:
            await doctor_in(session, doctor_id)
            rows = await session.scalars(
                select(ScheduleException)
                .where(
                    ScheduleException.doctor_id == doctor_id,
                    ScheduleException.ends_at > self._clock(),
                )
                .order_by(ScheduleException.starts_at, ScheduleException.id)
            )
            return list(rows)

    # -- weekly sessions ---------------------------------------------------------------------

    async def add_template(
        self, doctor_id: int, fields: TemplateFields, by: Editor
    ) -> Changed[ScheduleTemplate]:
        by.require_admin("change weekly schedules")
        values = self._template_values(fields)
        async with self._db.transaction() as session:
            # The doctor's row is the lock that serialises changes to their week.
            await doctor_in(session, doctor_id, for_update=True)
            template = ScheduleTemplate(doctor_id=doctor_id, capacity=1, **values)
            await self._fits_the_week(session, template, skip_id=None)
            session.add(template)
            await session.flush()
            add_audit(
                session,
                by.actor,
                AuditAction.CREATE,
                "schedule_template",
                template.id,
                detail={"doctor_id": doctor_id, **_audit_values(values)},
            )
            affected = await self._keeper.refresh_doctor(session, doctor_id)
        return Changed(template, affected)

    async def update_template(
        self, doctor_id: int, template_id: int, fields: TemplateFields, by: Editor
    ) -> Changed[ScheduleTemplate]:
        by.require_admin("change weekly schedules")
        values = self._template_values(fields)
        async with self._db.transaction() as session:
            await doctor_in(session, doctor_id, for_update=True)
            template = await _template(session, doctor_id, template_id)
            candidate = ScheduleTemplate(doctor_id=doctor_id, **values)
            await self._fits_the_week(session, candidate, skip_id=template_id)
            changed = changes(template, values)
            if not changed:
                return Changed(template)
            add_audit(
                session,
                by.actor,
                AuditAction.UPDATE,
                "schedule_template",
                template_id,
                detail={"doctor_id": doctor_id, "changed": changed},
            )
            await session.flush()
            affected = await self._keeper.refresh_doctor(session, doctor_id)
        return Changed(template, affected)

    async def delete_template(
        self, doctor_id: int, template_id: int, by: Editor
    ) -> Changed[ScheduleTemplate]:
        by.require_admin("change weekly schedules")
        async with self._db.transaction() as session:
            await doctor_in(session, doctor_id, for_update=True)
            template = await _template(session, doctor_id, template_id)
            detail = {"doctor_id": doctor_id, "session": check.describe_template(template)}
            await session.delete(template)
            add_audit(
                session,
                by.actor,
                AuditAction.DELETE,
                "schedule_template",
                template_id,
                detail=detail,
            )
            await session.flush()
            affected = await self._keeper.refresh_doctor(session, doctor_id)
        return Changed(template, affected)

    def _template_values(self, fields: TemplateFields) -> dict[str, Any]:
        check.weekday(fields.weekday)
        check.session_hours(fields.start_time, fields.end_time, fields.slot_minutes)
        check.validity(fields.valid_from, fields.valid_until, self._now_local().date())
        return {
            "weekday": fields.weekday,
            "start_time": fields.start_time,
            "end_time": fields.end_time,
            "slot_minutes": fields.slot_minutes,
            "location": check.text(fields.location, "location", max_length=120, required=False),
            "valid_from": fields.valid_from,
            "valid_until": fields.valid_until,
        }

    async def _fits_the_week(
        self, session: AsyncSession, candidate: ScheduleTemplate, *, skip_id: int | None
    ) -> None:
        """No overlap with the doctor's other sessions, nor with their future extra sessions."""
        check.no_template_overlap(
            candidate, await _templates(session, candidate.doctor_id), skip_id=skip_id
        )
        for extra, start, end in await self._extra_sessions(session, candidate.doctor_id):
            day = extra.starts_at.astimezone(self._policy.timezone).date()
            if (
                check.template_applies(candidate, day)
                and candidate.start_time < end
                and start < candidate.end_time
            ):
                raise ValidationFailed(
                    "start_time",
                    f"overlaps this doctor's extra session on {day} "
                    f"{check.hhmm(start)}-{check.hhmm(end)}",
                )

    # -- exceptions --------------------------------------------------------------------------

    async def add_exception(
        self, doctor_id: int, fields: ExceptionFields, by: Editor
    ) -> Changed[ScheduleException]:
        """Leave, a sick day or another absence blocks the doctor's slots in its span (booked
        ones are listed as conflicts); an extra session adds slots on one date."""
        by.require_supervisor("add leave, sick days or extra sessions")
        if fields.kind not in DOCTOR_EXCEPTION_KINDS:
            kinds = ", ".join(k.value for k in DOCTOR_EXCEPTION_KINDS)
            raise ValidationFailed("kind", f"use one of {kinds}")
        extra = fields.kind == ExceptionKind.EXTRA_SESSION
        if extra:
            start, end = self._extra_session_span(fields)
        else:
            for name in ("slot_minutes", "location"):
                if getattr(fields, name) is not None:
                    raise ValidationFailed(name, "only an extra session has one")
            start, end = check.exception_span(
                fields.starts_on,
                fields.ends_on or fields.starts_on,
                fields.start_time,
                fields.end_time,
                self._now_local(),
            )
        values: dict[str, Any] = {
            "kind": fields.kind,
            "starts_at": start,
            "ends_at": end,
            "slot_minutes": fields.slot_minutes if extra else None,
            "location": check.text(fields.location, "location", max_length=120, required=False),
            "reason": check.text(fields.reason, "reason", max_length=200, required=False),
        }
        async with self._db.transaction() as session:
            await doctor_in(session, doctor_id, for_update=True)
            if extra:
                await self._extra_session_is_free(session, doctor_id, start, end)
            exception = ScheduleException(doctor_id=doctor_id, **values)
            session.add(exception)
            await session.flush()
            add_audit(
                session,
                by.actor,
                AuditAction.CREATE,
                "schedule_exception",
                exception.id,
                detail={"doctor_id": doctor_id, **_audit_values(values)},
            )
            affected = await self._keeper.refresh_doctor(session, doctor_id)
        return Changed(exception, affected)

    async def delete_exception(
        self, doctor_id: int, exception_id: int, by: Editor
    ) -> Changed[ScheduleException]:
        by.require_supervisor("remove leave, sick days or extra sessions")
        async with self._db.transaction() as session:
            await doctor_in(session, doctor_id, for_update=True)
            exception = await session.get(ScheduleException, exception_id)
            if exception is None or exception.doctor_id != doctor_id:
                raise ExceptionNotFound(f"doctor {doctor_id} has no exception {exception_id}")
            detail = {
                "doctor_id": doctor_id,
                "kind": exception.kind.value,
                "starts_at": exception.starts_at.isoformat(),
                "ends_at": exception.ends_at.isoformat(),
            }
            await session.delete(exception)
            add_audit(
                session,
                by.actor,
                AuditAction.DELETE,
                "schedule_exception",
                exception_id,
                detail=detail,
            )
            await session.flush()
            affected = await self._keeper.refresh_doctor(session, doctor_id)
        return Changed(exception, affected)

    def _extra_session_span(self, fields: ExceptionFields) -> tuple[datetime, datetime]:
        for name in ("start_time", "end_time", "slot_minutes"):
            if getattr(fields, name) is None:
                raise ValidationFailed(name, "is required for an extra session")
        assert fields.start_time and fields.end_time and fields.slot_minutes
        if fields.ends_on is not None and fields.ends_on != fields.starts_on:
            raise ValidationFailed("ends_on", "an extra session is on one date (leave it empty)")
        check.session_hours(fields.start_time, fields.end_time, fields.slot_minutes)
        now = self._now_local()
        if fields.starts_on > now.date() + timedelta(days=self._policy.horizon_days):
            raise ValidationFailed(
                "starts_on",
                f"is past the booking horizon ({self._policy.horizon_days} days ahead)",
            )
        return check.exception_span(
            fields.starts_on, fields.starts_on, fields.start_time, fields.end_time, now
        )

    async def _extra_sessions(
        self, session: AsyncSession, doctor_id: int, on: date | None = None
    ) -> list[tuple[ScheduleException, time, time]]:
        """The doctor's extra sessions not yet over (only those on ``on`` if given), with
        their local start and end times."""
        tz = self._policy.timezone
        query = select(ScheduleException).where(
            ScheduleException.doctor_id == doctor_id,
            ScheduleException.kind == ExceptionKind.EXTRA_SESSION,
            ScheduleException.ends_at > self._clock(),
        )
        if on is not None:
            day_start = datetime.combine(on, time(0), tzinfo=tz)
            query = query.where(
                ScheduleException.starts_at < day_start + timedelta(days=1),
                ScheduleException.ends_at > day_start,
            )
        found = []
        for extra in await session.scalars(query):
            start, end = extra.starts_at.astimezone(tz), extra.ends_at.astimezone(tz)
            found.append((extra, start.time(), end.time()))
        return found

    async def _extra_session_is_free(
        self, session: AsyncSession, doctor_id: int, start: datetime, end: datetime
    ) -> None:
        day = start.date()
        check.no_session_clash(
            day,
            start.time(),
            end.time(),
            await _templates(session, doctor_id),
            await self._extra_sessions(session, doctor_id, on=day),
        )


def _audit_values(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value if value is None or isinstance(value, int | str) else str(value)
        for name, value in values.items()
    }


async def _templates(session: AsyncSession, doctor_id: int) -> list[ScheduleTemplate]:
    rows = await session.scalars(
        select(ScheduleTemplate)
        .where(ScheduleTemplate.doctor_id == doctor_id)
        .order_by(ScheduleTemplate.weekday, ScheduleTemplate.start_time, ScheduleTemplate.id)
    )
    return list(rows)


async def _template(session: AsyncSession, doctor_id: int, template_id: int) -> ScheduleTemplate:
    template = await session.get(ScheduleTemplate, template_id)
    if template is None or template.doctor_id != doctor_id:
        raise TemplateNotFound(f"doctor {doctor_id} has no weekly session {template_id}")
    return template
