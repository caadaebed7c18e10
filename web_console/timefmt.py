"""One readable time format for the whole console, in the hospital's time zone.

Every time the console shows goes through here (pages through the Jinja filters
``local_datetime``, ``local_date``, ``local_time`` and ``local_when``; JSON for the desk through
:func:`format_datetime`), and ``static/timefmt.js`` writes the same format in the browser:

- date and time: ``Tue 8 Dec 2026, 08:30`` (``Tue 8 Dec 2026, 08:30 EST`` with the zone)
- date: ``Tue 8 Dec 2026``
- time: ``08:30`` (``08:30 EST``)
- relative: ``Today, 08:30``, ``Tomorrow, 08:30``, ``Yesterday, 17:05``, else the full form

Stored times are UTC (``UtcDateTime``); a naive value or ISO string is read as UTC. The names of
days and months are fixed English (not the process locale), so the server and the browser agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

Moment = datetime | str

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def to_local(value: Moment, tz: tzinfo) -> datetime:
    """``value`` (aware datetime, naive UTC datetime or ISO 8601 string) in the zone ``tz``."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def zone_abbreviation(tz: tzinfo, at: Moment | None = None) -> str:
    """The zone's short name at a moment (``EST`` in winter, ``EDT`` in summer); now if none."""
    moment = to_local(at, tz) if at is not None else datetime.now(tz)
    return moment.tzname() or str(tz)


def zone_name(tz: tzinfo) -> str:
    """The zone as people say it: ``America/New_York`` -> ``New York time``; ``UTC`` as is."""
    key = str(tz)
    if "/" not in key:
        return key
    return f"{key.rsplit('/', 1)[1].replace('_', ' ')} time"


def format_date(value: Moment | date, tz: tzinfo) -> str:
    """``Tue 8 Dec 2026``; a calendar date (``date``, ``"2026-12-08"``) is shown as it is: it
    has no zone to convert from."""
    if isinstance(value, str) and len(value) == len("2026-12-08"):
        day = date.fromisoformat(value)
    elif isinstance(value, datetime | str):
        day = to_local(value, tz).date()
    else:
        day = value
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_time(value: Moment, tz: tzinfo, *, zone: bool = False) -> str:
    """``08:30``, or ``08:30 EST`` with ``zone``."""
    local = to_local(value, tz)
    text = f"{local.hour:02d}:{local.minute:02d}"
    return f"{text} {local.tzname()}" if zone else text


def format_datetime(value: Moment, tz: tzinfo, *, zone: bool = False) -> str:
    """``Tue 8 Dec 2026, 08:30``, or ``Tue 8 Dec 2026, 08:30 EST`` with ``zone``."""
    local = to_local(value, tz)
    return f"{format_date(local.date(), tz)}, {format_time(local, tz, zone=zone)}"


def format_relative(
    value: Moment, tz: tzinfo, *, now: datetime | None = None, zone: bool = False
) -> str:
    """``Today, 08:30`` / ``Tomorrow, …`` / ``Yesterday, …``; other days in the full form."""
    local = to_local(value, tz)
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    words = {today: "Today", today + timedelta(days=1): "Tomorrow"}
    words[today - timedelta(days=1)] = "Yesterday"
    word = words.get(local.date())
    if word is None:
        return format_datetime(local, tz, zone=zone)
    return f"{word}, {format_time(local, tz, zone=zone)}"


def jinja_filters(tz: tzinfo) -> dict[str, Callable[..., str]]:
    """The template filters, bound to the hospital's zone; ``None`` renders as ``""``."""

    def local_datetime(value: Any, zone: bool = False) -> str:
        return "" if value is None else format_datetime(value, tz, zone=zone)

    def local_date(value: Any) -> str:
        return "" if value is None else format_date(value, tz)

    def local_time(value: Any, zone: bool = False) -> str:
        return "" if value is None else format_time(value, tz, zone=zone)

    def local_when(value: Any, zone: bool = False) -> str:
        return "" if value is None else format_relative(value, tz, zone=zone)

    def zone_abbr(value: Any = None) -> str:
        return zone_abbreviation(tz, value)

    return {
        "local_datetime": local_datetime,
        "local_date": local_date,
        "local_time": local_time,
        "local_when": local_when,
        "zone_abbr": zone_abbr,
    }
