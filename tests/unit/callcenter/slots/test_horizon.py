"""The nightly job: a failed night is logged and the next one runs; stop ends it at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from callcenter.slots.plugin import SlotHorizon
from hcrm_core.errors import StorageUnavailable
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.slot_keeper import SlotKeeper


class StandInKeeper:
    """Fails on the runs listed in ``failing`` (0 = start-up), else creates 5 slots."""

    def __init__(self, failing: set[int]) -> None:
        self.at = datetime(2027, 1, 11, 17, 0, tzinfo=UTC)
        self.policy = BookingPolicy(timezone=ZoneInfo("America/New_York"))
        self.calls = 0
        self.failing = failing
        self.extended = asyncio.Event()

    def now(self) -> datetime:
        return self.at

    async def extend(self) -> int:
        self.calls += 1
        self.extended.set()
        if self.calls - 1 in self.failing:
            raise StorageUnavailable("the hospital database cannot be reached right now")
        return 5


async def test_a_failed_night_does_not_end_the_job(caplog: pytest.LogCaptureFixture) -> None:
    keeper = StandInKeeper(failing={1})
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        keeper.at += timedelta(seconds=seconds)
        if len(slept) == 3:
            raise asyncio.CancelledError

    horizon = SlotHorizon(cast(SlotKeeper, keeper), sleep=sleep)
    with pytest.raises(asyncio.CancelledError):
        await horizon.run_forever()
    # Start-up, a failed night, a good night; then the third sleep was cut short.
    assert keeper.calls == 3 and horizon.runs == 2 and horizon.created == 10
    # 12:00 New York to 02:00 is 14 hours; then one day each.
    assert slept == [14 * 3600.0, 24 * 3600.0, 24 * 3600.0]
    assert "not extended: storage_unavailable" in caplog.text


async def test_stop_cancels_the_waiting_job() -> None:
    keeper = StandInKeeper(failing=set())
    horizon = SlotHorizon(cast(SlotKeeper, keeper))
    await horizon.start()  # the start-up run is done when start returns
    assert keeper.extended.is_set()
    await asyncio.wait_for(horizon.stop(), timeout=5)
    # The start-up run, then the wait for 02:00 was cancelled.
    assert keeper.calls == 1 and horizon.runs == 1
