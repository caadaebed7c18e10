"""Opening hours per queue, holidays, the closed behaviour and after-hours requests.

Every change is one transaction with its audit row; bad input raises
:class:`~hcrm_core.errors.ValidationFailed` naming the field. A queue with no hours is always
open (holidays close only queues that keep hours). The calendar math, daylight saving
included, is :mod:`hcrm_core.services.opening_calendar`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import NotFound, PatientInactive, PatientNotFound, ValidationFailed
from hcrm_core.models import (
    AfterHoursKind,
    AfterHoursOptions,
    AfterHoursRequest,
    AfterHoursStatus,
    AuditAction,
    FollowUpTask,
    Holiday,
    OpeningInterval,
    TaskSource,
    utcnow,
)
from hcrm_core.models.hours import MINUTES_PER_DAY
from hcrm_core.phones import is_e164
from hcrm_core.services.audit import add_audit
from hcrm_core.services.opening_calendar import (
    WEEKDAYS,
    Interval,
    QueueCalendar,
    clock_text,
    holidays_for,
)
from hcrm_core.services.tasks import create_task

_QUEUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
# Keys of the closed menu: 1 voicemail, 2 call me back; 0 and * are the kit's own.
EMERGENCY_DIGITS = "3456789"
# The prompt languages a closed message may be written in (callcenter's catalogue languages).
MESSAGE_LANGUAGES = ("en", "zh")
MESSAGE_LENGTH = 300
TASK_REASONS = {
    AfterHoursKind.VOICEMAIL: "After-hours voicemail: listen and call back",
    AfterHoursKind.CALLBACK: "After-hours request: call the patient back",
}


class OpeningHoursNotFound(NotFound):
    code = "opening_hours_not_found"


@dataclass(frozen=True, slots=True)
class ClosedOptions:
    """What a closed queue offers (the defaults when no row is kept)."""

    queue: str
    emergency_digit: str | None = None
    emergency_number: str | None = None
    voicemail: bool = True
    callback: bool = True
    # The queue's own closed message per prompt language (empty: the standard message).
    closed_messages: Mapping[str, str] = field(default_factory=dict)


def _options_of(row: AfterHoursOptions) -> ClosedOptions:
    return ClosedOptions(
        row.queue,
        row.emergency_digit,
        row.emergency_number,
        row.voicemail,
        row.callback,
        dict(row.closed_messages or {}),
    )


def _messages(messages: Mapping[str, str]) -> dict[str, str]:
    """Closed messages by language, trimmed; an empty one is dropped (the standard one)."""
    kept: dict[str, str] = {}
    for language, text in messages.items():
        if language not in MESSAGE_LANGUAGES:
            raise ValidationFailed("closed_messages", f"languages: {', '.join(MESSAGE_LANGUAGES)}")
        text = (text or "").strip()
        if len(text) > MESSAGE_LENGTH:
            raise ValidationFailed(
                f"closed_messages.{language}", f"at most {MESSAGE_LENGTH} characters"
            )
        if text:
            kept[language] = text
    return kept


# -- parsing at the edge --------------------------------------------------------------------


def parse_queue(value: object, field: str = "queue") -> str:
    text = str(value or "").strip()
    if not _QUEUE_RE.match(text):
        raise ValidationFailed(field, "a queue name (letters, digits, '-' or '_', up to 64)")
    return text


def parse_weekday(value: object, field: str = "weekday") -> int:
    """0-6 (Monday = 0) or a day's name (``monday``, ``mon``)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    text = str(value).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for number, name in enumerate(WEEKDAYS):
        if len(text) >= 3 and name.startswith(text):
            return number
    raise ValidationFailed(field, f"unknown weekday {value!r} (monday..sunday or 0..6)")


def parse_clock(value: object, field: str, *, end_of_day: bool = False) -> int:
    """``HH:MM`` as a minute of the day; ``24:00`` only for a closing time (``end_of_day``)."""
    match = _CLOCK_RE.match(str(value).strip())
    minute = -1
    if match:
        hours, minutes = int(match.group(1)), int(match.group(2))
        if minutes < 60:
            minute = hours * 60 + minutes
    limit = MINUTES_PER_DAY if end_of_day else MINUTES_PER_DAY - 1
    if not 0 <= minute <= limit:
        raise ValidationFailed(field, f"a time of day as HH:MM, not {value!r}")
    return minute


def make_interval(
    weekday: object, opens: object, closes: object, index: int | None = None
) -> Interval:
    """An interval from input; field names carry ``index`` when part of a list."""
    prefix = "" if index is None else f"intervals[{index}]."
    interval = Interval(
        parse_weekday(weekday, prefix + "weekday"),
        parse_clock(opens, prefix + "opens"),
        parse_clock(closes, prefix + "closes", end_of_day=True),
    )
    if interval.closes <= interval.opens:
        raise ValidationFailed(prefix + "closes", "the closing time must be after the opening time")
    return interval


def _no_overlap(intervals: Sequence[Interval], field: str = "opens") -> None:
    for number, interval in enumerate(intervals):
        for other in intervals[:number]:
            if interval.overlaps(other):
                raise ValidationFailed(field, f"{interval.label} overlaps {other.label}")


def _row_interval(row: OpeningInterval) -> Interval:
    return Interval(row.weekday, row.opens_minute, row.closes_minute)


def interval_detail(row: OpeningInterval) -> dict[str, object]:
    return {
        "id": row.id,
        "queue": row.queue,
        "weekday": WEEKDAYS[row.weekday],
        "opens": clock_text(row.opens_minute),
        "closes": clock_text(row.closes_minute),
    }


class OpeningHoursService:
    """Hours, holidays and closed options kept from the console; asked by the IVR."""

    def __init__(
        self, database: Database, zone: ZoneInfo, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.database = database
        self.zone = zone
        self.clock = clock

    def today(self) -> date:
        return self.clock().astimezone(self.zone).date()

    # -- questions ----------------------------------------------------------------------------

    async def calendar(self, queue: str, at: datetime) -> QueueCalendar:
        """The queue's week and its holidays from the day before ``at`` on (one read)."""
        since = at.astimezone(self.zone).date() - timedelta(days=1)
        async with self.database.session() as session:
            rows = await session.scalars(
                select(OpeningInterval).where(OpeningInterval.queue == queue)
            )
            intervals = tuple(_row_interval(row) for row in rows)
            holidays: frozenset[date] = frozenset()
            if intervals:
                found = await session.execute(
                    select(Holiday.day, Holiday.queue).where(Holiday.day >= since)
                )
                holidays = holidays_for(queue, ((day, only) for day, only in found))
        return QueueCalendar(queue, intervals, holidays, self.zone)

    async def is_open(self, queue: str, at: datetime) -> bool:
        return (await self.calendar(queue, at)).is_open(at)

    async def next_opening(self, queue: str, at: datetime) -> datetime | None:
        return (await self.calendar(queue, at)).next_opening(at)

    # -- weekly hours ---------------------------------------------------------------------------

    async def weeks(self) -> dict[str, list[OpeningInterval]]:
        """Every queue's intervals, by queue then weekday and opening time."""
        async with self.database.session() as session:
            rows = await session.scalars(
                select(OpeningInterval).order_by(
                    OpeningInterval.queue, OpeningInterval.weekday, OpeningInterval.opens_minute
                )
            )
            result: dict[str, list[OpeningInterval]] = {}
            for row in rows:
                result.setdefault(row.queue, []).append(row)
            return result

    async def week(self, queue: str) -> list[OpeningInterval]:
        return (await self.weeks()).get(queue, [])

    async def add_interval(self, queue: str, interval: Interval, actor: Actor) -> OpeningInterval:
        queue = parse_queue(queue)
        async with self.database.transaction() as session:
            existing = await self._intervals(session, queue)
            _no_overlap([*existing, interval])
            row = OpeningInterval(
                queue=queue,
                weekday=interval.weekday,
                opens_minute=interval.opens,
                closes_minute=interval.closes,
            )
            session.add(row)
            await session.flush()
            add_audit(
                session,
                actor,
                AuditAction.CREATE,
                "opening_hours",
                row.id,
                detail=interval_detail(row),
            )
        return row

    async def replace_week(
        self, queue: str, intervals: Sequence[Interval], actor: Actor
    ) -> list[OpeningInterval]:
        """The queue's whole week at once (an empty list: always open again)."""
        queue = parse_queue(queue)
        _no_overlap(intervals, "intervals")
        async with self.database.transaction() as session:
            before = [i.label for i in await self._intervals(session, queue)]
            await session.execute(delete(OpeningInterval).where(OpeningInterval.queue == queue))
            rows = [
                OpeningInterval(
                    queue=queue, weekday=i.weekday, opens_minute=i.opens, closes_minute=i.closes
                )
                for i in sorted(intervals, key=lambda i: (i.weekday, i.opens))
            ]
            session.add_all(rows)
            await session.flush()
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "opening_hours",
                queue,
                detail={"queue": queue, "before": before, "after": [i.label for i in intervals]},
            )
        return rows

    async def remove_interval(self, interval_id: int, actor: Actor) -> None:
        async with self.database.transaction() as session:
            row = await session.get(OpeningInterval, interval_id)
            if row is None:
                raise OpeningHoursNotFound(f"no opening hours #{interval_id}")
            detail = interval_detail(row)
            await session.delete(row)
            add_audit(
                session, actor, AuditAction.DELETE, "opening_hours", interval_id, detail=detail
            )

    async def _intervals(self, session: AsyncSession, queue: str) -> list[Interval]:
        rows = await session.scalars(select(OpeningInterval).where(OpeningInterval.queue == queue))
        return [_row_interval(row) for row in rows]

    # -- holidays ---------------------------------------------------------------------------

    async def holidays(self, *, include_past: bool = False) -> list[Holiday]:
        async with self.database.session() as session:
            query = select(Holiday).order_by(Holiday.day, Holiday.queue, Holiday.id)
            if not include_past:
                query = query.where(Holiday.day >= self.today())
            return list(await session.scalars(query))

    async def add_holiday(
        self, day: date, name: str, actor: Actor, *, queue: str | None = None
    ) -> Holiday:
        """A day closed for every queue (``queue`` None) or one; never a day already past."""
        name = (name or "").strip()
        if not name or len(name) > 120:
            raise ValidationFailed("name", "a name of 1 to 120 characters")
        if day < self.today():
            raise ValidationFailed("day", f"{day.isoformat()} is already past")
        only = parse_queue(queue) if queue else None
        async with self.database.transaction() as session:
            clash = await session.scalar(
                select(Holiday.id)
                .where(Holiday.day == day)
                .where(Holiday.queue.is_(None) if only is None else Holiday.queue == only)
            )
            if clash is not None:
                raise ValidationFailed("day", f"{day.isoformat()} is already a holiday")
            row = Holiday(day=day, name=name, queue=only)
            session.add(row)
            await session.flush()
            add_audit(
                session,
                actor,
                AuditAction.CREATE,
                "holiday",
                row.id,
                detail={"day": day.isoformat(), "name": name, "queue": only},
            )
        return row

    async def remove_holiday(self, holiday_id: int, actor: Actor) -> None:
        async with self.database.transaction() as session:
            row = await session.get(Holiday, holiday_id)
            if row is None:
                raise OpeningHoursNotFound(f"no holiday #{holiday_id}")
            detail = {"day": row.day.isoformat(), "name": row.name, "queue": row.queue}
            await session.delete(row)
            add_audit(session, actor, AuditAction.DELETE, "holiday", holiday_id, detail=detail)

    # -- what a closed queue offers -----------------------------------------------------------

    async def options(self, queue: str) -> ClosedOptions:
        async with self.database.session() as session:
            row = await session.get(AfterHoursOptions, queue)
            return ClosedOptions(queue) if row is None else _options_of(row)

    async def all_options(self) -> list[ClosedOptions]:
        async with self.database.session() as session:
            rows = await session.scalars(
                select(AfterHoursOptions).order_by(AfterHoursOptions.queue)
            )
            return [_options_of(row) for row in rows]

    async def set_options(self, options: ClosedOptions, actor: Actor) -> ClosedOptions:
        """Keep a queue's closed options; the emergency digit and number go together."""
        queue = parse_queue(options.queue)
        digit = options.emergency_digit or None
        number = (options.emergency_number or "").strip() or None
        if (digit is None) != (number is None):
            field = "emergency_number" if number is None else "emergency_digit"
            raise ValidationFailed(field, "set both the emergency key and number, or neither")
        if digit is not None and (len(digit) != 1 or digit not in EMERGENCY_DIGITS):
            raise ValidationFailed("emergency_digit", f"one of {', '.join(EMERGENCY_DIGITS)}")
        if number is not None and not is_e164(number):
            raise ValidationFailed("emergency_number", "an E.164 number like '+12125550100'")
        messages = _messages(options.closed_messages)
        async with self.database.transaction() as session:
            row = await session.get(AfterHoursOptions, queue)
            if row is None:
                row = AfterHoursOptions(queue=queue)
                session.add(row)
            row.emergency_digit, row.emergency_number = digit, number
            row.voicemail, row.callback = options.voicemail, options.callback
            row.closed_messages = messages
            row.updated_at = utcnow()
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "after_hours_options",
                queue,
                detail={
                    "emergency_digit": digit,
                    "emergency_number": number,
                    "voicemail": options.voicemail,
                    "callback": options.callback,
                    "closed_messages": messages,
                },
            )
        return ClosedOptions(queue, digit, number, options.voicemail, options.callback, messages)

    # -- after-hours requests -----------------------------------------------------------------

    async def record_request(
        self,
        kind: AfterHoursKind,
        queue: str,
        *,
        caller_number: str,
        patient_id: int | None,
        recording_path: str | None = None,
        linkedid: str | None = None,
    ) -> AfterHoursRequest:
        """Store a voicemail or callback request; an identified patient also gets a task."""
        async with self.database.transaction() as session:
            task = None
            if patient_id is not None:
                task = await self._request_task(session, kind, queue, patient_id, linkedid)
            task_id = task.id if task is not None else None
            row = AfterHoursRequest(
                kind=kind,
                queue=queue,
                caller_number=caller_number[:64],
                patient_id=patient_id,
                recording_path=recording_path,
                linkedid=linkedid,
                status=AfterHoursStatus.OPEN,
                task_id=task_id,
                created_at=self.clock(),
            )
            session.add(row)
            await session.flush()
            add_audit(
                session,
                Actor.ivr(linkedid),
                AuditAction.CREATE,
                "after_hours_request",
                row.id,
                patient_id=patient_id,
                detail={"kind": kind.value, "queue": queue},
            )
            if task is not None:
                task.source_ref = f"after_hours_request:{row.id}"
        return row

    async def _request_task(
        self,
        session: AsyncSession,
        kind: AfterHoursKind,
        queue: str,
        patient_id: int,
        linkedid: str | None,
    ) -> FollowUpTask | None:
        """The inbox task for a request; none for a patient erased or merged meanwhile (the
        request itself is kept and listed with the after-hours requests)."""
        source = (
            TaskSource.VOICEMAIL
            if kind is AfterHoursKind.VOICEMAIL
            else TaskSource.CALLBACK_REQUEST
        )
        try:
            return await create_task(
                session,
                patient_id=patient_id,
                reason=TASK_REASONS[kind],
                source_kind=source,
                source_ref=None,
                priority=2,
                due_at=None,
                queue=queue,
                actor=Actor.ivr(linkedid),
            )
        except (PatientNotFound, PatientInactive):
            return None

    async def requests(self, *, limit: int = 200) -> list[AfterHoursRequest]:
        async with self.database.session() as session:
            rows = await session.scalars(
                select(AfterHoursRequest)
                .order_by(AfterHoursRequest.created_at.desc(), AfterHoursRequest.id.desc())
                .limit(limit)
            )
            return list(rows)

    async def request(self, request_id: int) -> AfterHoursRequest:
        async with self.database.session() as session:
            row = await session.get(AfterHoursRequest, request_id)
            if row is None:
                raise OpeningHoursNotFound(f"no after-hours request #{request_id}")
            return row
