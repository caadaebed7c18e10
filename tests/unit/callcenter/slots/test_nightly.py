"""When the nightly slot run is due: 02:00 in the hospital's zone, daylight saving included."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from hcrm_core.services.slot_keeper import next_nightly_run

NY = ZoneInfo("America/New_York")


def _local(moment: datetime) -> datetime:
    return moment.astimezone(NY)


def test_before_two_runs_tonight_after_two_tomorrow() -> None:
    evening = datetime(2027, 1, 11, 23, 0, tzinfo=UTC)  # 18:00 in New York
    assert _local(next_nightly_run(evening, NY)) == datetime(2027, 1, 12, 2, 0, tzinfo=NY)
    small_hours = datetime(2027, 1, 12, 6, 30, tzinfo=UTC)  # 01:30 in New York
    assert _local(next_nightly_run(small_hours, NY)) == datetime(2027, 1, 12, 2, 0, tzinfo=NY)
    at_two = datetime(2027, 1, 12, 7, 0, tzinfo=UTC)  # exactly 02:00: the next one is tomorrow
    assert _local(next_nightly_run(at_two, NY)) == datetime(2027, 1, 13, 2, 0, tzinfo=NY)


def test_daylight_saving_nights() -> None:
    # 14 March 2027: 02:00 does not exist in New York; the run is at 03:00 EDT (07:00 UTC).
    spring = next_nightly_run(datetime(2027, 3, 13, 12, 0, tzinfo=UTC), NY)
    assert spring == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    # 7 November 2027: 02:00 comes after the first 01:00-02:00 EDT; one run only.
    autumn = next_nightly_run(datetime(2027, 11, 6, 12, 0, tzinfo=UTC), NY)
    assert autumn == datetime(2027, 11, 7, 7, 0, tzinfo=UTC)
    assert next_nightly_run(autumn, NY) == datetime(2027, 11, 8, 7, 0, tzinfo=UTC)


def test_another_hour_and_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    due = next_nightly_run(datetime(2027, 5, 1, 0, 0, tzinfo=UTC), tokyo, time(4, 30))
    assert due.astimezone(tokyo) == datetime(2027, 5, 2, 4, 30, tzinfo=tokyo)
