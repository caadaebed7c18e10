"""What the doctors' pages show: the week as a grid of sessions, exceptions in local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta, tzinfo

from hcrm_core.models import ExceptionKind, ScheduleException, ScheduleTemplate
from hcrm_core.services.doctors_checks import WEEKDAYS

KIND_LABELS = {
    ExceptionKind.LEAVE: "Leave",
    ExceptionKind.SICK: "Sick day",
    ExceptionKind.EXTRA_SESSION: "Extra session",
    ExceptionKind.OTHER: "Other absence",
    ExceptionKind.HOLIDAY: "Holiday",
}
# Page notices after a change (?saved=...), by what was done.
NOTICES = {
    "created": "Doctor created. Add their weekly sessions below: until then nobody can book them.",
    "doctor": "Doctor saved.",
    "deactivated": "Doctor deactivated: they are no longer offered for booking.",
    "reactivated": "Doctor reactivated: their sessions are bookable again.",
    "template-added": "Weekly session added; its slots are bookable.",
    "template-saved": "Weekly session saved; its future free slots follow the new hours.",
    "template-removed": "Weekly session removed; its future free slots are gone.",
    "exception-added": "Added to the doctor's exceptions.",
    "exception-removed": "Exception removed.",
    "department-created": "Department created.",
    "department-saved": "Department saved.",
    "department-deactivated": "Department deactivated: it is no longer offered in the menu.",
    "department-reactivated": "Department reactivated.",
}


def hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


@dataclass(frozen=True, slots=True)
class SessionView:
    id: int
    start: str
    end: str
    slot_minutes: int
    slots: int
    location: str | None
    valid_from: date | None
    valid_until: date | None


@dataclass(frozen=True, slots=True)
class DayColumn:
    name: str
    short: str
    sessions: list[SessionView]


def session_view(template: ScheduleTemplate) -> SessionView:
    minutes = (template.end_time.hour * 60 + template.end_time.minute) - (
        template.start_time.hour * 60 + template.start_time.minute
    )
    return SessionView(
        id=template.id,
        start=hhmm(template.start_time),
        end=hhmm(template.end_time),
        slot_minutes=template.slot_minutes,
        slots=minutes // template.slot_minutes,
        location=template.location,
        valid_from=template.valid_from,
        valid_until=template.valid_until,
    )


def week_grid(templates: list[ScheduleTemplate]) -> list[DayColumn]:
    """Seven columns, Monday first, each with its sessions by start time."""
    columns = [DayColumn(name, name[:3], []) for name in WEEKDAYS]
    for template in sorted(templates, key=lambda t: (t.weekday, t.start_time)):
        columns[template.weekday].sessions.append(session_view(template))
    return columns


@dataclass(frozen=True, slots=True)
class ExceptionView:
    id: int
    kind: str
    kind_label: str
    first_day: date
    last_day: date
    start: str | None  # None: from the start of the first day
    end: str | None  # None: to the end of the last day
    slot_minutes: int | None
    location: str | None
    reason: str | None


def exception_view(exception: ScheduleException, tz: tzinfo) -> ExceptionView:
    start, end = exception.starts_at.astimezone(tz), exception.ends_at.astimezone(tz)
    starts_at_midnight = start.time() == time(0)
    ends_at_midnight = end.time() == time(0)
    last_day = (end - timedelta(days=1)).date() if ends_at_midnight else end.date()
    return ExceptionView(
        id=exception.id,
        kind=exception.kind.value,
        kind_label=KIND_LABELS.get(exception.kind, exception.kind.value),
        first_day=start.date(),
        last_day=max(last_day, start.date()),
        start=None if starts_at_midnight else hhmm(start.time()),
        end=None if ends_at_midnight else hhmm(end.time()),
        slot_minutes=exception.slot_minutes,
        location=exception.location,
        reason=exception.reason,
    )


def affected_ids(raw: str | None) -> list[int]:
    """The appointment ids a change reported (``?affected=3,4``), for the notice."""
    return [int(part) for part in (raw or "").split(",") if part.isascii() and part.isdigit()][:50]
