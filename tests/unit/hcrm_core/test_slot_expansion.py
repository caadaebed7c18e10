"""Template expansion in local time, across daylight-saving changes."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from hcrm_core.models import ScheduleTemplate
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.slot_expansion import template_slots as _template_slots

NY = BookingPolicy(timezone=ZoneInfo("America/New_York"))


def _template(**kw) -> ScheduleTemplate:
    base = dict(
        doctor_id=1,
        weekday=0,
        start_time=time(9),
        end_time=time(10, 10),
        slot_minutes=20,
        valid_from=None,
        valid_until=None,
    )
    base.update(kw)
    return ScheduleTemplate(**base)


def test_only_whole_slots_inside_the_session():
    slots = list(_template_slots(_template(), date(2026, 1, 5), NY))  # a Monday, EST
    assert [s.astimezone(NY.timezone).time() for s, _ in slots] == [
        time(9),
        time(9, 20),
        time(9, 40),
    ]
    assert slots[0][0] == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


def test_wall_clock_is_kept_across_dst():
    winter = next(iter(_template_slots(_template(), date(2026, 3, 2), NY)))[0]
    summer = next(iter(_template_slots(_template(), date(2026, 3, 9), NY)))[0]  # after DST starts
    assert winter.hour == 14 and summer.hour == 13
    assert winter.astimezone(NY.timezone).time() == summer.astimezone(NY.timezone).time()


def test_wrong_weekday_and_validity_window_give_nothing():
    assert list(_template_slots(_template(), date(2026, 1, 6), NY)) == []
    bounded = _template(valid_from=date(2026, 2, 1), valid_until=date(2026, 2, 28))
    assert list(_template_slots(bounded, date(2026, 1, 5), NY)) == []
    assert list(_template_slots(bounded, date(2026, 2, 2), NY))
    assert list(_template_slots(bounded, date(2026, 3, 2), NY)) == []
