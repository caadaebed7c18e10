"""Opening hours as moments: both daylight-saving changes in New York, holidays, next opening.

2026-03-08 02:00 EST -> 03:00 EDT (02:xx does not exist); 2026-11-01 02:00 EDT -> 01:00 EST
(01:xx happens twice).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hcrm_core.services.opening_calendar import Interval, QueueCalendar, local_instant

NY = ZoneInfo("America/New_York")
SUNDAY = 6


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def calendar(*intervals: Interval, holidays: tuple[date, ...] = ()) -> QueueCalendar:
    return QueueCalendar("appointments", intervals, frozenset(holidays), NY)


def test_a_time_that_does_not_exist_is_the_moment_the_clock_jumps_past_it() -> None:
    assert local_instant(date(2026, 3, 8), 150, NY) == utc(2026, 3, 8, 7, 0)  # 02:30 -> 03:00 EDT
    assert local_instant(date(2026, 3, 8), 60, NY) == utc(2026, 3, 8, 6, 0)  # 01:00 EST
    assert local_instant(date(2026, 3, 8), 180, NY) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT


def test_a_time_that_happens_twice_is_its_first_occurrence() -> None:
    assert local_instant(date(2026, 11, 1), 90, NY) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert local_instant(date(2026, 11, 1), 180, NY) == utc(2026, 11, 1, 8, 0)  # 03:00 EST
    assert local_instant(date(2026, 11, 1), 1440, NY) == utc(2026, 11, 2, 5, 0)  # midnight EST


def test_an_interval_spanning_spring_forward_is_one_hour_shorter() -> None:
    night = calendar(Interval(SUNDAY, 60, 240))  # Sundays 01:00-04:00
    assert night.is_open(utc(2026, 3, 8, 6, 0))  # 01:00 EST
    assert night.is_open(utc(2026, 3, 8, 6, 59))  # 01:59 EST
    assert night.is_open(utc(2026, 3, 8, 7, 0))  # 03:00 EDT, the next minute
    assert not night.is_open(utc(2026, 3, 8, 8, 0))  # 04:00 EDT: closed after 2 real hours
    assert not night.is_open(utc(2026, 3, 8, 5, 59))


def test_an_interval_opening_inside_the_gap_opens_when_the_clock_jumps() -> None:
    queue = calendar(Interval(SUNDAY, 150, 300))  # Sundays 02:30-05:00
    assert not queue.is_open(utc(2026, 3, 8, 6, 59))  # 01:59 EST
    assert queue.is_open(utc(2026, 3, 8, 7, 0))  # 03:00 EDT
    assert queue.next_opening(utc(2026, 3, 8, 6, 30)) == utc(2026, 3, 8, 7, 0)
    # The Sunday before, with no gap: 02:30 EST.
    assert queue.next_opening(utc(2026, 3, 1, 6, 0)) == utc(2026, 3, 1, 7, 30)


def test_an_interval_spanning_fall_back_is_one_hour_longer() -> None:
    night = calendar(Interval(SUNDAY, 0, 180))  # Sundays 00:00-03:00
    assert night.is_open(utc(2026, 11, 1, 4, 0))  # 00:00 EDT
    assert night.is_open(utc(2026, 11, 1, 5, 30))  # the first 01:30 (EDT)
    assert night.is_open(utc(2026, 11, 1, 6, 30))  # the second 01:30 (EST)
    assert night.is_open(utc(2026, 11, 1, 7, 59))  # 02:59 EST
    assert not night.is_open(utc(2026, 11, 1, 8, 0))  # 03:00 EST: four real hours


def test_closing_at_a_time_that_happens_twice_closes_the_first_time() -> None:
    queue = calendar(Interval(SUNDAY, 0, 90))  # Sundays 00:00-01:30
    assert queue.is_open(utc(2026, 11, 1, 5, 29))  # 01:29 EDT
    assert not queue.is_open(utc(2026, 11, 1, 5, 30))  # the first 01:30
    assert not queue.is_open(utc(2026, 11, 1, 6, 10))  # 01:10 EST: not open again
    assert queue.next_opening(utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 8, 5, 0)  # EST now


def test_weekday_hours_and_the_next_opening_across_a_weekend_and_a_holiday() -> None:
    weekdays = [Interval(day, 8 * 60, 18 * 60) for day in range(5)]
    queue = calendar(*weekdays, holidays=(date(2026, 12, 28),))  # a Monday
    friday_evening = utc(2026, 12, 25, 23, 30)  # 18:30 EST Friday
    assert not queue.is_open(friday_evening)
    assert queue.next_opening(friday_evening) == utc(2026, 12, 29, 13, 0)  # Tuesday 08:00 EST
    assert queue.is_open(utc(2026, 12, 29, 13, 0))
    assert not queue.is_open(utc(2026, 12, 28, 15, 0))  # the holiday
    assert queue.next_opening(utc(2026, 12, 29, 15, 0)) == utc(2026, 12, 29, 15, 0)  # open now


def test_no_hours_is_always_open_and_a_queue_never_open_has_no_next_opening() -> None:
    assert calendar().is_open(utc(2026, 12, 25, 3, 0))
    assert calendar().next_opening(utc(2026, 12, 25, 3, 0)) == utc(2026, 12, 25, 3, 0)
    every_day = tuple(date.fromordinal(date(2026, 1, 1).toordinal() + n) for n in range(500))
    closed = calendar(Interval(0, 540, 600), holidays=every_day)
    assert closed.next_opening(utc(2026, 1, 1, 12, 0)) is None


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (Interval(0, 480, 720), Interval(0, 720, 1080), False),  # touching
        (Interval(0, 480, 721), Interval(0, 720, 1080), True),
        (Interval(0, 480, 720), Interval(1, 600, 700), False),  # another day
        (Interval(0, 480, 1080), Interval(0, 600, 700), True),  # inside
    ],
)
def test_overlap(a: Interval, b: Interval, overlap: bool) -> None:
    assert a.overlaps(b) is overlap and b.overlaps(a) is overlap
