"""When a queue answers: weekly hours and holidays turned into moments, daylight saving included.

A queue's hours are wall-clock times in the hospital's zone. Each day's interval becomes two
instants (opens, closes) by :func:`local_instant`, which settles the two hours a year a wall
clock cannot name once:

- a time that does not exist (02:30 on the spring-forward day in New York) is the moment the
  clock jumps past it (03:00 EDT): a queue "opening at 02:30" opens as soon as 02:30 is over;
- a time that happens twice (01:30 on the fall-back day) is its first occurrence: a queue
  "closing at 01:30" closes the first time the clock shows 01:30 and does not reopen.

Everything here is pure (no database): :class:`QueueCalendar` is loaded once per question.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hcrm_core.models.hours import MINUTES_PER_DAY

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# How far ahead next_opening looks: a year and a bit covers any holiday calendar.
SEARCH_DAYS = 400


@dataclass(frozen=True, slots=True)
class Interval:
    """One weekly interval: weekday (Monday = 0), minutes of the day it opens and closes."""

    weekday: int
    opens: int
    closes: int

    def overlaps(self, other: Interval) -> bool:
        return (
            self.weekday == other.weekday
            and self.opens < other.closes
            and other.opens < self.closes
        )

    @property
    def label(self) -> str:
        return (
            f"{WEEKDAYS[self.weekday].title()} {clock_text(self.opens)}-{clock_text(self.closes)}"
        )


def clock_text(minute: int) -> str:
    """``HH:MM`` for a minute of the day (1440 is ``24:00``, the end of the day)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC moment the hospital's clock reads ``minute`` on ``day`` (see the module doc)."""
    if minute >= MINUTES_PER_DAY:
        return local_instant(day + timedelta(days=1), minute - MINUTES_PER_DAY, zone)
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier reading
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In the spring-forward gap: the first minute whose wall reading is at or past ``wall``.
    later = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    start, end = min(first, later), max(first, later)
    moment = start
    while moment < end and moment.astimezone(zone).replace(tzinfo=None) < wall:
        moment += timedelta(minutes=1)
    return moment


@dataclass(frozen=True, slots=True)
class QueueCalendar:
    """A queue's week and holidays in the hospital's zone. No intervals: always open."""

    queue: str
    intervals: tuple[Interval, ...]
    holidays: frozenset[date]
    zone: ZoneInfo

    @property
    def always_open(self) -> bool:
        return not self.intervals

    def windows(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The UTC [opens, closes) windows of one local day, in order (none on a holiday)."""
        if day in self.holidays:
            return
        for interval in sorted(self.intervals, key=lambda i: i.opens):
            if interval.weekday == day.weekday():
                opens = local_instant(day, interval.opens, self.zone)
                closes = local_instant(day, interval.closes, self.zone)
                if opens < closes:
                    yield opens, closes

    def is_open(self, at: datetime) -> bool:
        if self.always_open:
            return True
        day = at.astimezone(self.zone).date()
        # A window of the day before may end at midnight exactly; none reaches further.
        return any(opens <= at < closes for opens, closes in self.windows(day))

    def next_opening(self, at: datetime) -> datetime | None:
        """``at`` when open, else the moment the queue next opens; None if not within a year."""
        if self.is_open(at):
            return at
        first_day = at.astimezone(self.zone).date()
        for offset in range(SEARCH_DAYS):
            for opens, _closes in self.windows(first_day + timedelta(days=offset)):
                if opens > at:
                    return opens
        return None


def holidays_for(queue: str, rows: Iterable[tuple[date, str | None]]) -> frozenset[date]:
    """The days closed for ``queue``: hospital-wide holidays (queue None) and its own."""
    return frozenset(day for day, only in rows if only is None or only == queue)
