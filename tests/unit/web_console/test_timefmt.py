"""The console's one time format, in the hospital's zone, across both daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from web_console.timefmt import (
    format_date,
    format_datetime,
    format_relative,
    format_time,
    jinja_filters,
    to_local,
    zone_abbreviation,
    zone_name,
)

NEW_YORK = ZoneInfo("America/New_York")


def test_the_patient_cards_appointment_reads_like_the_pop() -> None:
    # The example: 13:30 UTC on 8 Dec 2026 is 08:30 in New York (EST).
    moment = datetime(2026, 12, 8, 13, 30, tzinfo=UTC)
    assert format_datetime(moment, NEW_YORK) == "Tue 8 Dec 2026, 08:30"
    assert format_datetime(moment, NEW_YORK, zone=True) == "Tue 8 Dec 2026, 08:30 EST"
    assert format_date(moment, NEW_YORK) == "Tue 8 Dec 2026"
    assert format_time(moment, NEW_YORK, zone=True) == "08:30 EST"


def test_iso_strings_and_naive_utc_are_read_as_utc() -> None:
    assert format_datetime("2026-12-08T13:30:00+00:00", NEW_YORK) == "Tue 8 Dec 2026, 08:30"
    assert format_datetime("2026-12-08T13:30:00Z", NEW_YORK) == "Tue 8 Dec 2026, 08:30"
    assert format_datetime(datetime(2026, 12, 8, 13, 30), NEW_YORK) == "Tue 8 Dec 2026, 08:30"


def test_a_plain_date_is_shown_as_it_is() -> None:
    assert format_date(date(2026, 3, 8), NEW_YORK) == "Sun 8 Mar 2026"
    # A calendar date string (the board's day, a due date) is not moved back to the 7th.
    assert format_date("2026-03-08", NEW_YORK) == "Sun 8 Mar 2026"


@pytest.mark.parametrize(
    ("utc", "shown"),
    [
        # Spring forward, Sun 8 Mar 2026: 02:00 EST becomes 03:00 EDT.
        (datetime(2026, 3, 8, 6, 59, tzinfo=UTC), "Sun 8 Mar 2026, 01:59 EST"),
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "Sun 8 Mar 2026, 03:00 EDT"),
        # Fall back, Sun 1 Nov 2026: 01:00-02:00 happens twice, the zone tells them apart.
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "Sun 1 Nov 2026, 01:30 EDT"),
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "Sun 1 Nov 2026, 01:30 EST"),
        # Summer: UTC-4.
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "Wed 1 Jul 2026, 08:00 EDT"),
    ],
)
def test_daylight_saving_changes(utc: datetime, shown: str) -> None:
    assert format_datetime(utc, NEW_YORK, zone=True) == shown


def test_the_local_day_can_differ_from_the_utc_day() -> None:
    late = datetime(2026, 12, 9, 3, 0, tzinfo=UTC)  # 22:00 on the 8th in New York
    assert format_date(late, NEW_YORK) == "Tue 8 Dec 2026"
    assert to_local(late, NEW_YORK).day == 8


def test_zone_abbreviation_follows_the_season() -> None:
    assert zone_abbreviation(NEW_YORK, datetime(2026, 1, 15, tzinfo=UTC)) == "EST"
    assert zone_abbreviation(NEW_YORK, datetime(2026, 7, 15, tzinfo=UTC)) == "EDT"
    assert zone_abbreviation(ZoneInfo("UTC"), datetime(2026, 7, 15, tzinfo=UTC)) == "UTC"


def test_relative_words_use_the_hospitals_day() -> None:
    now = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)  # 10:00 on Tue 8 Dec in New York
    assert format_relative(datetime(2026, 12, 8, 13, 30, tzinfo=UTC), NEW_YORK, now=now) == (
        "Today, 08:30"
    )
    # 02:00 UTC on the 9th is still the 8th in New York: today, not tomorrow.
    assert format_relative(datetime(2026, 12, 9, 2, 0, tzinfo=UTC), NEW_YORK, now=now) == (
        "Today, 21:00"
    )
    assert format_relative(datetime(2026, 12, 9, 14, 0, tzinfo=UTC), NEW_YORK, now=now) == (
        "Tomorrow, 09:00"
    )
    assert format_relative(datetime(2026, 12, 7, 22, 5, tzinfo=UTC), NEW_YORK, now=now) == (
        "Yesterday, 17:05"
    )
    assert format_relative(
        datetime(2026, 12, 20, 14, 0, tzinfo=UTC), NEW_YORK, now=now, zone=True
    ) == ("Sun 20 Dec 2026, 09:00 EST")


def test_template_filters_are_bound_to_the_zone_and_blank_for_nothing() -> None:
    filters = jinja_filters(NEW_YORK)
    moment = datetime(2026, 12, 8, 13, 30, tzinfo=UTC)
    assert filters["local_datetime"](moment) == "Tue 8 Dec 2026, 08:30"
    assert filters["local_datetime"](moment, zone=True) == "Tue 8 Dec 2026, 08:30 EST"
    assert filters["local_date"](moment) == "Tue 8 Dec 2026"
    assert filters["local_time"](moment, True) == "08:30 EST"
    assert filters["zone_abbr"](moment) == "EST"
    for name in ("local_datetime", "local_date", "local_time", "local_when"):
        assert filters[name](None) == ""


def test_zone_names_read_as_people_say_them() -> None:
    assert zone_name(NEW_YORK) == "New York time"
    assert zone_name(ZoneInfo("America/Argentina/Buenos_Aires")) == "Buenos Aires time"
    assert zone_name(ZoneInfo("UTC")) == "UTC"
