"""When a patient may be called: the campaign's window, holidays, and the patient's own clock.

Pure functions. The patient's time zone comes from their number (``phonenumbers`` knows the
zones of each numbering area); when a number spans several zones, every one of them must be
inside 08:00-21:00, so nobody is woken up. A number with no known zone is judged by the
hospital's zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from hcrm_core.services.campaigns_config import EARLIEST_CALL, LATEST_CALL, CallingWindow

Interval = tuple[datetime, datetime]
# How far ahead the next allowed moment is searched (long holidays, weekly windows).
SEARCH_DAYS = 21


@lru_cache(maxsize=4096)
def _zones_for(e164: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    names = phone_timezone.time_zones_for_number(number)
    return tuple(name for name in names if name != phone_timezone.UNKNOWN_TIMEZONE)


def patient_zones(e164: str, fallback: ZoneInfo) -> tuple[ZoneInfo, ...]:
    """The time zones a number may be in (the hospital's when unknown)."""
    zones = []
    for name in _zones_for(e164):
        try:
            zones.append(ZoneInfo(name))
        except ZoneInfoNotFoundError:
            continue
    return tuple(zones) or (fallback,)


def _local_span(day: date, start: time, end: time, zone: ZoneInfo) -> Interval:
    return (datetime.combine(day, start, zone), datetime.combine(day, end, zone))


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    result = []
    for a_start, a_end in a:
        for b_start, b_end in b:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                result.append((start, end))
    return sorted(result)


def allowed_intervals(
    day: date,
    window: CallingWindow,
    hospital_tz: ZoneInfo,
    zones: Iterable[ZoneInfo],
    holidays: frozenset[date],
) -> list[Interval]:
    """The moments of hospital-local ``day`` when this patient may be called."""
    if day.weekday() not in window.weekdays or day in holidays or day in window.holidays:
        return []
    spans = [_local_span(day, window.start, window.end, hospital_tz)]
    for zone in zones:
        patient = [
            _local_span(day + timedelta(days=shift), EARLIEST_CALL, LATEST_CALL, zone)
            for shift in (-1, 0, 1)
        ]
        spans = _intersect(spans, patient)
    return spans


def next_call_time(
    now: datetime,
    window: CallingWindow,
    hospital_tz: ZoneInfo,
    zones: Sequence[ZoneInfo],
    holidays: frozenset[date] = frozenset(),
) -> datetime | None:
    """``now`` if the patient may be called now, else the next moment they may; None when
    there is none within :data:`SEARCH_DAYS` (a window that can never open for them)."""
    today = now.astimezone(hospital_tz).date()
    for offset in range(SEARCH_DAYS):
        for start, end in allowed_intervals(
            today + timedelta(days=offset), window, hospital_tz, zones, holidays
        ):
            if end > now:
                return max(start, now)
    return None


def window_start_on(day: date, window: CallingWindow, hospital_tz: ZoneInfo) -> datetime:
    """The opening of the campaign window on a hospital-local day (scheduling targets)."""
    return datetime.combine(day, window.start, hospital_tz)
