"""``booking.nightly_at``: validated "HH:MM", and the nightly run waits for it (hospital time)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from callcenter.settings import BookingSettings
from callcenter.slots import plugin
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.slot_keeper import SlotKeeper

NY = ZoneInfo("America/New_York")


class Keeper:
    def __init__(self) -> None:
        self.at = datetime(2027, 1, 11, 17, 0, tzinfo=UTC)  # 12:00 in New York
        self.policy = BookingPolicy(timezone=NY)
        self.calls = 0

    def now(self) -> datetime:
        return self.at

    async def extend(self) -> int:
        self.calls += 1
        return 0


def test_the_default_is_two_and_a_time_is_read() -> None:
    assert BookingSettings().nightly_time() == time(2, 0)
    assert BookingSettings(nightly_at="23:45").nightly_time() == time(23, 45)


@pytest.mark.parametrize("bad", ["2:00", "24:00", "02:60", "0200", "02:00:00", " 02:00", ""])
def test_a_bad_time_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        BookingSettings(nightly_at=bad)
    assert refused.value.errors()[0]["loc"] == ("nightly_at",)
    assert "24-hour time" in str(refused.value)


async def test_the_nightly_run_waits_for_the_configured_time() -> None:
    keeper = Keeper()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        keeper.at += timedelta(seconds=seconds)
        if len(slept) == 2:
            raise asyncio.CancelledError

    horizon = plugin.SlotHorizon(
        cast(SlotKeeper, keeper), at=BookingSettings(nightly_at="04:30").nightly_time(), sleep=sleep
    )
    with pytest.raises(asyncio.CancelledError):
        await horizon.run_forever()
    # 12:00 to 04:30 the next morning, New York time; then a day.
    assert slept == [16.5 * 3600, 24 * 3600.0]
    assert keeper.at.astimezone(NY) == datetime(2027, 1, 13, 4, 30, tzinfo=NY)


async def test_start_takes_the_time_from_the_booking_settings() -> None:
    keeper = Keeper()
    horizon = await plugin.start(
        BookingSettings(nightly_at="05:15"), keeper=cast(SlotKeeper, keeper)
    )
    try:
        assert keeper.calls == 1  # the start-up run
        assert horizon._at == time(5, 15)
    finally:
        await asyncio.wait_for(horizon.stop(), timeout=5)
