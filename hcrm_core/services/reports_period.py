"""A report's period and its buckets, in the hospital's time zone.

A period is whole local days, ``first`` to ``last`` inclusive. Buckets of a day or longer
start at local midnight (a day across a daylight-saving change lasts 23 or 25 hours); buckets
of 15 minutes or an hour are steps of real time from the period's start, labelled in local
time, so the repeated hour of an autumn change is two buckets, not one of two hours.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hcrm_core.errors import ValidationFailed


class Granularity(enum.StrEnum):
    QUARTER = "15min"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


# The longest period (days) each granularity may cover: a page stays readable and a report
# over the API stays quick.
MAX_DAYS = {
    Granularity.QUARTER: 31,
    Granularity.HOUR: 93,
    Granularity.DAY: 366,
    Granularity.WEEK: 731,
    Granularity.MONTH: 1096,
}
_STEPS = {Granularity.QUARTER: timedelta(minutes=15), Granularity.HOUR: timedelta(hours=1)}


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    local_start: datetime  # the same moment in the hospital's zone

    def label(self, granularity: Granularity) -> str:
        local = self.local_start
        if granularity is Granularity.MONTH:
            return local.strftime("%Y-%m")
        if granularity is Granularity.WEEK:
            return f"week of {local:%Y-%m-%d}"
        if granularity is Granularity.DAY:
            return local.strftime("%Y-%m-%d")
        # The repeated hour of an autumn change shows its zone, so the two are told apart.
        zone = f" {local.tzname()}" if _ambiguous(local) else ""
        return f"{local:%Y-%m-%d %H:%M}{zone}"


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date
    granularity: Granularity
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.tz)

    def buckets(self) -> list[Bucket]:
        step = _STEPS.get(self.granularity)
        if step is not None:
            return self._steps(step)
        edges = [self.start]
        day = self.first
        while True:
            day = _next_start(day, self.granularity)
            if day > self.last:
                break
            edges.append(local_midnight(day, self.tz))
        edges.append(self.end)
        return [Bucket(a, b, a.astimezone(self.tz)) for a, b in itertools.pairwise(edges)]

    def _steps(self, step: timedelta) -> list[Bucket]:
        result = []
        at, end = self.start, self.end
        while at < end:
            upper = min(at + step, end)
            result.append(Bucket(at, upper, at.astimezone(self.tz)))
            at = upper
        return result


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _ambiguous(local: datetime) -> bool:
    other = local.replace(fold=1 - local.fold)
    return other.utcoffset() != local.utcoffset()


def _next_start(day: date, granularity: Granularity) -> date:
    if granularity is Granularity.DAY:
        return day + timedelta(days=1)
    if granularity is Granularity.WEEK:
        return day + timedelta(days=7 - day.weekday())  # the next Monday
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def parse_date(field: str, raw: str | None) -> date:
    if raw is None or not raw.strip():
        raise ValidationFailed(field, "required, a date like 2026-12-01")
    try:
        if len(raw.strip()) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(field, "a date like 2026-12-01") from None


def parse_period(
    raw_from: str | None, raw_to: str | None, raw_by: str | None, tz: ZoneInfo
) -> Period:
    """The period asked for (``from``, ``to``: local dates, inclusive; ``by``: the bucket)."""
    first = parse_date("from", raw_from)
    last = parse_date("to", raw_to)
    try:
        granularity = Granularity(raw_by or Granularity.DAY.value)
    except ValueError:
        allowed = ", ".join(g.value for g in Granularity)
        raise ValidationFailed("by", f"one of {allowed}") from None
    if first > last:
        raise ValidationFailed("from", "must not be after 'to'")
    days = (last - first).days + 1
    if days > MAX_DAYS[granularity]:
        raise ValidationFailed(
            "to",
            f"a period by {granularity.value} covers at most {MAX_DAYS[granularity]} days "
            f"(this one is {days}); choose a shorter period or a longer bucket",
        )
    return Period(first, last, granularity, tz)


def bucket_index(buckets: list[Bucket], at: datetime) -> int | None:
    """The bucket holding ``at`` (binary search over the sorted starts), None outside."""
    lo, hi = 0, len(buckets)
    while lo < hi:
        mid = (lo + hi) // 2
        if buckets[mid].end <= at:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(buckets) and buckets[lo].start <= at:
        return lo
    return None


def average_hours(total_seconds: float, count: int) -> float | None:
    """The average of ``count`` durations summing to ``total_seconds``, in hours to one
    decimal (as the reports show it); None when there is none to average."""
    return round(total_seconds / count / 3600, 1) if count else None
