"""The pure rules of a doctor's week: slot lengths, spans in local time, overlaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import ScheduleTemplate
from hcrm_core.services import doctors_checks as check

NEW_YORK = ZoneInfo("America/New_York")


def test_slot_length_must_divide_the_session_and_a_fitting_one_is_suggested():
    check.session_hours(time(9), time(12), 30)
    with pytest.raises(ValidationFailed, match="try 20 minutes") as refused:
        check.session_hours(time(9), time(12), 25)  # 180 minutes: 20 and 30 fit, 20 is shorter
    assert refused.value.field == "slot_minutes"
    with pytest.raises(ValidationFailed, match="whole minutes") as refused:
        check.session_hours(time(9, 0, 30), time(12), 30)
    assert refused.value.field == "start_time"


def test_a_leave_span_is_whole_local_days_across_a_clock_change():
    now = datetime(2026, 3, 1, 12, tzinfo=NEW_YORK)
    start, end = check.exception_span(date(2026, 3, 7), date(2026, 3, 8), None, None, now)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-03-07T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",  # the clocks went forward on the 8th
    )
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=47)
    with pytest.raises(ValidationFailed, match="before the first day") as refused:
        check.exception_span(date(2026, 3, 7), date(2026, 3, 6), None, None, now)
    assert refused.value.field == "ends_on"
    with pytest.raises(ValidationFailed, match="within 5 years") as refused:
        check.exception_span(date(2026, 3, 7), date(9999, 12, 31), None, None, now)
    assert refused.value.field == "ends_on"


def test_sessions_overlap_only_on_the_same_weekday_while_both_are_valid():
    def template(id_, weekday, start, end, valid_from=None, valid_until=None):
        row = ScheduleTemplate(
            doctor_id=1,
            weekday=weekday,
            start_time=time(start),
            end_time=time(end),
            slot_minutes=30,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        row.id = id_
        return row

    monday = template(1, 0, 9, 12, valid_until=date(2026, 12, 31))
    check.no_template_overlap(template(None, 1, 9, 12), [monday], skip_id=None)
    check.no_template_overlap(template(None, 0, 12, 14), [monday], skip_id=None)
    check.no_template_overlap(template(None, 0, 9, 12, date(2027, 1, 1)), [monday], skip_id=None)
    check.no_template_overlap(template(1, 0, 10, 13), [monday], skip_id=1)  # itself, edited
    with pytest.raises(ValidationFailed, match="Monday 09:00-12:00") as refused:
        check.no_template_overlap(template(None, 0, 11, 13), [monday], skip_id=None)
    assert refused.value.field == "start_time"
