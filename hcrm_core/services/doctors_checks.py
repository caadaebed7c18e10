"""The rules a department, a doctor, a weekly session or an exception must keep (pure checks).

Each check raises :class:`ValidationFailed` naming the field the person has to correct, with a
message written for them ("25 minutes does not divide the session 09:00-12:00").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import ScheduleException, ScheduleTemplate

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 240
MAX_EXCEPTION_DAYS = 366
MAX_SYNONYMS = 20
# Dates further away are typing mistakes (and 9999-12-31 plus a day is no date at all).
MAX_YEARS_AWAY = 5
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,15}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")


def text(value: str | None, field: str, *, max_length: int, required: bool = True) -> str | None:
    """``value`` stripped; empty is ``None`` (refused when ``required``)."""
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise ValidationFailed(field, "is required")
        return None
    if len(cleaned) > max_length:
        raise ValidationFailed(field, f"at most {max_length} characters")
    return cleaned


def required_text(value: str | None, field: str, *, max_length: int) -> str:
    cleaned = text(value, field, max_length=max_length)
    assert cleaned is not None
    return cleaned


def department_code(value: str | None) -> str:
    code = required_text(value, "code", max_length=16).upper()
    if not _CODE.fullmatch(code):
        raise ValidationFailed("code", "use 1-16 letters, digits, '-' or '_' (like CARD)")
    return code


def language_names(names: dict[str, str]) -> dict[str, str]:
    """Names per language code (``{"zh": "心内科"}``); empty names are dropped."""
    checked: dict[str, str] = {}
    for language, name in names.items():
        code = language.strip()
        if not _LANGUAGE.fullmatch(code):
            raise ValidationFailed("names", f"{language!r} is not a language code like zh or es")
        cleaned = text(name, "names", max_length=120, required=False)
        if cleaned is not None:
            checked[code] = cleaned
    return checked


def synonyms(values: Iterable[str]) -> list[str]:
    """Spoken synonyms, stripped, without empties or repeats (case-insensitive)."""
    seen: set[str] = set()
    checked: list[str] = []
    for value in values:
        cleaned = text(value, "synonyms", max_length=60, required=False)
        if cleaned is not None and cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            checked.append(cleaned)
    if len(checked) > MAX_SYNONYMS:
        raise ValidationFailed("synonyms", f"at most {MAX_SYNONYMS}")
    return checked


def menu_order(value: int) -> int:
    if not 0 <= value <= 999:
        raise ValidationFailed("menu_order", "must be between 0 and 999")
    return value


def hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def session_hours(start: time, end: time, slot_minutes: int) -> None:
    """A session from ``start`` to ``end`` (same day) cut into whole slots of ``slot_minutes``."""
    for field, value in (("start_time", start), ("end_time", end)):
        if value.second or value.microsecond:
            raise ValidationFailed(field, "give whole minutes, like 09:30")
    if end <= start:
        raise ValidationFailed("end_time", f"must be after the start ({hhmm(start)})")
    if not MIN_SLOT_MINUTES <= slot_minutes <= MAX_SLOT_MINUTES:
        raise ValidationFailed(
            "slot_minutes", f"must be between {MIN_SLOT_MINUTES} and {MAX_SLOT_MINUTES} minutes"
        )
    length = _minutes(end) - _minutes(start)
    if length % slot_minutes:
        raise ValidationFailed(
            "slot_minutes",
            f"{slot_minutes} minutes does not divide the {length}-minute session "
            f"{hhmm(start)}-{hhmm(end)}; try {_divisor_hint(length, slot_minutes)}",
        )


def _divisor_hint(length: int, wanted: int) -> str:
    divisors = [d for d in range(MIN_SLOT_MINUTES, min(length, MAX_SLOT_MINUTES) + 1)]
    fitting = [d for d in divisors if length % d == 0] or [length]
    best = min(fitting, key=lambda d: (abs(d - wanted), d))
    return f"{best} minutes"


def validity(valid_from: date | None, valid_until: date | None, today: date) -> None:
    if valid_from and valid_until and valid_until < valid_from:
        raise ValidationFailed("valid_until", "must not be before valid_from")
    if valid_until and valid_until < today:
        raise ValidationFailed("valid_until", "is already past")


def weekday(value: int) -> int:
    if not 0 <= value <= 6:
        raise ValidationFailed("weekday", "must be 0 (Monday) to 6 (Sunday)")
    return value


def describe_template(template: ScheduleTemplate) -> str:
    when = f"{WEEKDAYS[template.weekday]} {hhmm(template.start_time)}-{hhmm(template.end_time)}"
    if template.valid_from or template.valid_until:
        when += f" ({template.valid_from or '…'} to {template.valid_until or '…'})"
    return when


def _dates_meet(
    a_from: date | None, a_until: date | None, b_from: date | None, b_until: date | None
) -> bool:
    return (a_from or date.min) <= (b_until or date.max) and (b_from or date.min) <= (
        a_until or date.max
    )


def no_template_overlap(
    candidate: ScheduleTemplate, others: Iterable[ScheduleTemplate], *, skip_id: int | None
) -> None:
    """The same doctor cannot hold two sessions at once on a weekday (while both are valid)."""
    for other in others:
        if other.id == skip_id or other.weekday != candidate.weekday:
            continue
        if not (candidate.start_time < other.end_time and other.start_time < candidate.end_time):
            continue
        if _dates_meet(
            candidate.valid_from, candidate.valid_until, other.valid_from, other.valid_until
        ):
            raise ValidationFailed(
                "start_time", f"overlaps this doctor's session {describe_template(other)}"
            )


def template_applies(template: ScheduleTemplate, day: date) -> bool:
    return (
        template.weekday == day.weekday()
        and (template.valid_from is None or template.valid_from <= day)
        and (template.valid_until is None or day <= template.valid_until)
    )


def no_session_clash(
    day: date,
    start: time,
    end: time,
    templates: Iterable[ScheduleTemplate],
    extra_sessions: Iterable[tuple[ScheduleException, time, time]],
) -> None:
    """An extra session must not overlap the doctor's usual sessions or another extra one."""
    for template in templates:
        if (
            template_applies(template, day)
            and start < template.end_time
            and template.start_time < end
        ):
            raise ValidationFailed(
                "start_time",
                f"overlaps this doctor's weekly session {describe_template(template)}",
            )
    for _, other_start, other_end in extra_sessions:
        if start < other_end and other_start < end:
            raise ValidationFailed(
                "start_time",
                f"overlaps another extra session {hhmm(other_start)}-{hhmm(other_end)} that day",
            )


def exception_span(
    starts_on: date,
    ends_on: date,
    start_time: time | None,
    end_time: time | None,
    now_local: datetime,
) -> tuple[datetime, datetime]:
    """The local start and end of an absence: whole days unless times are given."""
    tz = now_local.tzinfo
    today = now_local.date()
    for field, day in (("starts_on", starts_on), ("ends_on", ends_on)):
        if abs((day - today).days) > MAX_YEARS_AWAY * 366:
            raise ValidationFailed(field, f"must be within {MAX_YEARS_AWAY} years of today")
    if ends_on < starts_on:
        raise ValidationFailed("ends_on", f"must not be before the first day ({starts_on})")
    if (ends_on - starts_on).days >= MAX_EXCEPTION_DAYS:
        raise ValidationFailed("ends_on", f"at most {MAX_EXCEPTION_DAYS} days after starts_on")
    start = datetime.combine(starts_on, start_time or time(0), tzinfo=tz)
    if end_time is None:
        end = datetime.combine(ends_on + timedelta(days=1), time(0), tzinfo=tz)
    else:
        end = datetime.combine(ends_on, end_time, tzinfo=tz)
    if end <= start:
        raise ValidationFailed("end_time", f"must be after the start ({hhmm(start.time())})")
    if end <= now_local:
        raise ValidationFailed("ends_on", "is already past")
    return start, end
